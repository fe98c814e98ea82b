//! Fixed-size byte values (hashes, keys, signatures, ids). In the binary form they are raw bytes;
//! in JSON they are lowercase hex, because a JSON array of 64 numbers helps nobody.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Lower-case hex by table lookup: ids and hashes are printed on every listed document, and
/// the `hex` crate's char iterator shows up in profiles. The one hex encoder of the workspace.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0x0f)]);
    }
    String::from_utf8(out).unwrap_or_else(|_| unreachable!("hex digits are ASCII"))
}

macro_rules! fixed_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            pub const LEN: usize = $len;
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
            pub fn to_hex(&self) -> String {
                crate::bytes::to_hex(&self.0)
            }
            pub fn from_hex(text: &str) -> Result<Self, crate::SchemaError> {
                let mut out = [0u8; $len];
                hex::decode_to_slice(text, &mut out).map_err(|e| {
                    crate::SchemaError::invalid(stringify!($name), format!("{e} in {text:?}"))
                })?;
                Ok($name(out))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_fixed(&self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserialize_fixed::<D, $len>(deserializer).map($name)
            }
        }
    };
}

fixed_bytes!(
    /// A BLAKE3 digest.
    Digest32, 32
);
fixed_bytes!(
    /// An Ed25519 public key, as registered in the directory.
    PublicKeyBytes, 32
);
fixed_bytes!(
    /// An Ed25519 signature.
    SignatureBytes, 64
);
fixed_bytes!(
    /// Names one public key: the first 16 bytes of BLAKE3(public key).
    KeyId, 16
);
fixed_bytes!(
    /// The idempotency key of an event, chosen by its actor (random, or derived from the
    /// document's URI for issuance so that a re-run of the same bulk file adds nothing).
    EventId, 16
);
fixed_bytes!(
    /// The id of a share link or a consent artefact.
    Id16, 16
);
fixed_bytes!(
    /// The random nonce of an XChaCha20-Poly1305 sealed payload.
    Nonce24, 24
);

/// A byte string of any length, as one length-prefixed block in the binary form (the same bytes
/// bincode writes for a sequence of `u8`, written and read at once instead of byte by byte) and
/// as an array of numbers in JSON, exactly as a plain `Vec<u8>`.
pub(crate) mod byte_vec {
    use std::fmt;

    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_seq(bytes)
        } else {
            serializer.serialize_bytes(bytes)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        struct BytesVisitor;

        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = Vec<u8>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
                Ok(bytes.to_vec())
            }
            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(bytes)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(byte) = seq.next_element()? {
                    out.push(byte);
                }
                Ok(out)
            }
        }

        if deserializer.is_human_readable() {
            Vec::<u8>::deserialize(deserializer)
        } else {
            deserializer.deserialize_byte_buf(BytesVisitor)
        }
    }
}

pub(crate) fn serialize_fixed<S: Serializer, const N: usize>(
    bytes: &[u8; N],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&to_hex(bytes))
    } else {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(N)?;
        for byte in bytes {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

pub(crate) fn deserialize_fixed<'de, D: Deserializer<'de>, const N: usize>(
    deserializer: D,
) -> Result<[u8; N], D::Error> {
    struct FixedVisitor<const N: usize>;

    impl<'de, const N: usize> Visitor<'de> for FixedVisitor<N> {
        type Value = [u8; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{N} bytes ({} hex digits)", N * 2)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<[u8; N], E> {
            let mut out = [0u8; N];
            hex::decode_to_slice(text, &mut out)
                .map_err(|e| E::custom(format!("expected {} hex digits: {e}", N * 2)))?;
            Ok(out)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
            let mut out = [0u8; N];
            for (index, slot) in out.iter_mut().enumerate() {
                *slot =
                    seq.next_element()?.ok_or_else(|| de::Error::invalid_length(index, &self))?;
            }
            Ok(out)
        }
    }

    if deserializer.is_human_readable() {
        deserializer.deserialize_str(FixedVisitor::<N>)
    } else {
        deserializer.deserialize_tuple(N, FixedVisitor::<N>)
    }
}

#[cfg(test)]
mod hex_tests {
    #[test]
    fn table_hex_matches_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(super::to_hex(&bytes), hex::encode(&bytes));
        assert_eq!(super::to_hex(&[]), "");
    }
}
