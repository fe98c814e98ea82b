//! Personal data: the cleartext that is sealed beside an event, never stored in the clear.
//! The event carries only a salted hash (the commitment) of these bytes.

use serde::{Deserialize, Serialize};

use crate::ids::{CivilDate, Email, FieldKey, FieldValue, Label, MobileNumber};
use crate::{SchemaError, limits};

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalData {
    /// For `CitizenRegistered`.
    Mobile(MobileNumber),
    /// For `ProfileUpdated`.
    Profile(Profile),
    /// For `DocumentIssued` and `DocumentUpdated`.
    Document(DocumentPersonal),
    /// For `DocumentUploaded`.
    Upload(UploadPersonal),
    /// For `AadhaarVerified`: the resident's data as the Aadhaar authority answered it.
    Kyc(KycProfile),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
    Transgender,
    Undisclosed,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub full_name: Option<Label>,
    pub date_of_birth: Option<CivilDate>,
    pub gender: Option<Gender>,
    pub email: Option<Email>,
}

/// One structured field of a document, such as a subject and its marks.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentField {
    pub key: FieldKey,
    pub value: FieldValue,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentPersonal {
    pub holder_name: Label,
    pub date_of_birth: Option<CivilDate>,
    pub fields: Vec<DocumentField>,
}

/// What the Aadhaar authority holds of a resident (e-KYC): identity and address.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KycProfile {
    pub name: Label,
    pub date_of_birth: CivilDate,
    pub gender: Gender,
    /// The address by UIDAI's element names (`co`, `house`, `street`, `lm`, `loc`, `vtc`,
    /// `subdist`, `dist`, `state`, `country`, `pc`, `po`), the empty ones left out.
    pub address: Vec<DocumentField>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadPersonal {
    pub file_name: Label,
}

impl PersonalData {
    pub fn validate(&self) -> Result<(), SchemaError> {
        if let PersonalData::Document(document) = self
            && document.fields.len() > limits::DOCUMENT_FIELDS_MAX
        {
            {
                return Err(SchemaError::InvalidEvent(format!(
                    "a document has at most {} structured fields, not {}",
                    limits::DOCUMENT_FIELDS_MAX,
                    document.fields.len()
                )));
            }
        }
        if let PersonalData::Kyc(kyc) = self
            && kyc.address.len() > limits::KYC_ADDRESS_FIELDS_MAX
        {
            return Err(SchemaError::InvalidEvent(format!(
                "an e-KYC address has at most {} elements, not {}",
                limits::KYC_ADDRESS_FIELDS_MAX,
                kyc.address.len()
            )));
        }
        Ok(())
    }
}
