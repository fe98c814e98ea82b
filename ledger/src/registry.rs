//! The key registry: which keys each actor holds, whether each is still valid, and what each
//! kind of actor may emit. It is built only from events (the directory and citizen
//! registrations), so replaying the log rebuilds it exactly as it was at any point of history.

use std::collections::{HashMap, HashSet};

use ed25519_dalek::VerifyingKey;
use schemas::{
    Actor, DocTypeCode, DocUri, Event, IssuerId, KeyId, Organisation, Payload, Principal,
    PublicKeyEntry,
};

use crate::LedgerError;
use crate::crypto::{VerifyItem, esign_message, parse_public_key, verify_one};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyStatus {
    Active,
    RotatedOut,
    Revoked,
}

impl KeyStatus {
    fn code(self) -> u8 {
        match self {
            KeyStatus::Active => 0,
            KeyStatus::RotatedOut => 1,
            KeyStatus::Revoked => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        [KeyStatus::Active, KeyStatus::RotatedOut, KeyStatus::Revoked]
            .get(usize::from(code))
            .copied()
    }
}

/// A public key, checked as a curve point when first used. A registry loaded from a snapshot
/// holds a key per citizen; checking them all on load (tens of microseconds each) would make
/// a start grow with the number of citizens again.
#[derive(Debug, Clone)]
struct LazyKey {
    bytes: [u8; 32],
    parsed: std::sync::OnceLock<Option<VerifyingKey>>,
}

impl LazyKey {
    fn parsed(key: VerifyingKey) -> Self {
        LazyKey { bytes: key.to_bytes(), parsed: std::sync::OnceLock::from(Some(key)) }
    }

    fn stored(bytes: [u8; 32]) -> Self {
        LazyKey { bytes, parsed: std::sync::OnceLock::new() }
    }

    /// The key; none if the stored bytes are not a point (a snapshot is signed, so only a
    /// bug puts one there).
    fn get(&self) -> Option<VerifyingKey> {
        *self
            .parsed
            .get_or_init(|| VerifyingKey::from_bytes(&self.bytes).ok().filter(|key| !key.is_weak()))
    }
}

/// The registry as stored in a snapshot: plain data, keys as bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredRegistry {
    principals: Vec<(Principal, StoredPrincipal)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredPrincipal {
    keys: Vec<(KeyId, [u8; 32], u8)>,
    suspended: bool,
    doc_types: Vec<DocTypeCode>,
}

fn snapshot_config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding()
}

#[derive(Debug, Clone)]
struct PrincipalState {
    keys: HashMap<KeyId, (LazyKey, KeyStatus)>,
    suspended: bool,
    /// For issuers: the doc types they may issue.
    doc_types: HashSet<DocTypeCode>,
}

impl PrincipalState {
    fn new(keys: &[PublicKeyEntry]) -> Result<Self, LedgerError> {
        let mut state =
            PrincipalState { keys: HashMap::new(), suspended: false, doc_types: HashSet::new() };
        for entry in keys {
            state.keys.insert(
                entry.key_id,
                (LazyKey::parsed(parse_public_key(entry)?), KeyStatus::Active),
            );
        }
        Ok(state)
    }
}

/// Keys and permissions as of some point in the log.
#[derive(Debug, Clone)]
pub struct KeyRegistry {
    principals: HashMap<Principal, PrincipalState>,
}

impl KeyRegistry {
    /// A registry that trusts only the platform's keys (the trust anchor, from configuration).
    pub fn new(platform_keys: &[PublicKeyEntry]) -> Result<Self, LedgerError> {
        let mut principals = HashMap::new();
        principals.insert(Principal::Platform, PrincipalState::new(platform_keys)?);
        Ok(KeyRegistry { principals })
    }

    /// Whether `key_id` is (or was) one of `principal`'s keys.
    pub fn knows_key(&self, principal: &Principal, key_id: &KeyId) -> bool {
        self.principals.get(principal).is_some_and(|state| state.keys.contains_key(key_id))
    }

    /// True for events that change the registry; they are checked and applied one at a time.
    pub fn affects_registry(payload: &Payload) -> bool {
        matches!(
            payload,
            Payload::IssuerRegistered(_)
                | Payload::RequesterRegistered(_)
                | Payload::KeyRotated(_)
                | Payload::KeyRevoked(_)
                | Payload::OrganisationSuspended(_)
                | Payload::OrganisationReinstated(_)
                | Payload::CitizenRegistered(_)
                | Payload::LockerClosed(_)
        )
    }

    /// Checks that `event` may be appended now and returns the key its signature must verify
    /// with. Does not check the signature itself (that is batched) and changes nothing.
    pub fn check(&self, event: &Event) -> Result<VerifyingKey, LedgerError> {
        let principal = Principal::from(&event.actor);
        let (key, state) = self.active(&principal, &event.key_id)?;
        self.check_permission(&event.actor, &event.payload, state)?;
        self.check_registry_change(&event.payload)?;
        self.check_open(event)?;
        Ok(key)
    }

    /// Nothing more is appended to a closed locker, whoever signs it (its citizen's keys are
    /// refused already: a closed locker's citizen is suspended).
    fn check_open(&self, event: &Event) -> Result<(), LedgerError> {
        let schemas::PartitionKey::Locker(locker) = event.payload.partition_key() else {
            return Ok(());
        };
        if self.is_closed(&locker) {
            return Err(LedgerError::LockerClosed { locker: locker.to_string() });
        }
        Ok(())
    }

    /// Whether the citizen closed the locker (`LockerClosed`).
    pub fn is_closed(&self, locker: &schemas::LockerId) -> bool {
        self.principals.get(&Principal::Citizen(*locker)).is_some_and(|state| state.suspended)
    }

    /// The key `key_id` of `principal`, if it may sign now: the principal is known and not
    /// suspended, and the key is neither rotated out nor revoked. Authenticates requests
    /// signed outside events (HTTP message signatures).
    pub fn active_key(
        &self,
        principal: &Principal,
        key_id: &KeyId,
    ) -> Result<VerifyingKey, LedgerError> {
        self.active(principal, key_id).map(|(key, _)| key)
    }

    fn active(
        &self,
        principal: &Principal,
        key_id: &KeyId,
    ) -> Result<(VerifyingKey, &PrincipalState), LedgerError> {
        let state = self
            .principals
            .get(principal)
            .ok_or_else(|| LedgerError::UnknownActor { actor: principal.to_string() })?;
        if state.suspended {
            if let Principal::Citizen(locker) = principal {
                return Err(LedgerError::LockerClosed { locker: locker.to_string() });
            }
            return Err(LedgerError::ActorSuspended { actor: principal.to_string() });
        }
        let unknown = || LedgerError::UnknownKey { actor: principal.to_string(), key_id: *key_id };
        let (key, status) = state.keys.get(key_id).ok_or_else(unknown)?;
        match status {
            KeyStatus::Active => Ok((key.get().ok_or_else(unknown)?, state)),
            KeyStatus::RotatedOut => {
                Err(LedgerError::KeyRotatedOut { actor: principal.to_string(), key_id: *key_id })
            }
            KeyStatus::Revoked => {
                Err(LedgerError::KeyRevoked { actor: principal.to_string(), key_id: *key_id })
            }
        }
    }

    fn check_permission(
        &self,
        actor: &Actor,
        payload: &Payload,
        state: &PrincipalState,
    ) -> Result<(), LedgerError> {
        let refuse = |reason: String| {
            Err(LedgerError::NotPermitted {
                actor_kind: actor.kind(),
                event_kind: payload.kind_name(),
                reason,
            })
        };
        let issuer_owns = |issuer: &IssuerId, uri: &DocUri| -> Result<(), LedgerError> {
            if uri.issuer() != issuer {
                return refuse(format!("{uri} belongs to issuer {}", uri.issuer()));
            }
            if !state.doc_types.contains(uri.doc_type()) {
                return refuse(format!("{issuer} has not registered doc type {}", uri.doc_type()));
            }
            Ok(())
        };
        match (actor, payload) {
            // Key changes: the platform, or the owner itself with a valid key.
            (_, Payload::KeyRotated(e)) => self.check_key_owner(actor, &e.owner, payload),
            (_, Payload::KeyRevoked(e)) => self.check_key_owner(actor, &e.owner, payload),
            (
                Actor::Platform,
                Payload::IssuerRegistered(_)
                | Payload::RequesterRegistered(_)
                | Payload::OrganisationSuspended(_)
                | Payload::OrganisationReinstated(_)
                | Payload::CitizenRegistered(_)
                | Payload::AadhaarLinked(_)
                | Payload::AadhaarUnlinked(_)
                | Payload::AadhaarVerified(_)
                | Payload::SharedDocumentViewed(_)
                | Payload::ConsentExpired(_)
                | Payload::ConsentFetchRefused(_)
                | Payload::AadhaarForgotten(_),
            ) => Ok(()),
            (Actor::Issuer(issuer), Payload::DocumentIssued(e)) => issuer_owns(issuer, &e.uri),
            (Actor::Issuer(issuer), Payload::DocumentUpdated(e)) => issuer_owns(issuer, &e.uri),
            (Actor::Issuer(issuer), Payload::DocumentRevoked(e)) => issuer_owns(issuer, &e.uri),
            (Actor::Issuer(issuer), Payload::DocTypeDeclared(e)) => {
                if &e.issuer != issuer {
                    return refuse(format!("issuer {issuer} may declare only its own doc types"));
                }
                if !state.doc_types.contains(&e.doc_type) {
                    return refuse(format!("{issuer} has not registered doc type {}", e.doc_type));
                }
                Ok(())
            }
            (Actor::Requester(id), Payload::ConsentRequested(e)) if &e.requester == id => Ok(()),
            (Actor::Requester(id), Payload::DocumentAccessed(e)) if &e.requester == id => Ok(()),
            (Actor::Requester(id), Payload::ConsentRequestedWithTerms(e)) if &e.requester == id => {
                Ok(())
            }
            (
                Actor::Requester(id),
                Payload::ConsentRequested(_)
                | Payload::DocumentAccessed(_)
                | Payload::ConsentRequestedWithTerms(_),
            ) => refuse(format!("requester {id} may act only under its own id")),
            (Actor::Citizen(locker), _) => match citizen_locker(payload) {
                Some(target) if target == *locker => {
                    if let Payload::DocumentESigned(e) = payload {
                        let message = esign_message(&e.content_hash);
                        let valid = state.keys.values().any(|(key, status)| {
                            *status == KeyStatus::Active
                                && key.get().is_some_and(|key| {
                                    verify_one(&VerifyItem {
                                        message: &message,
                                        signature: &e.esignature,
                                        key: &key,
                                    })
                                })
                        });
                        if !valid {
                            return Err(LedgerError::BadESignature);
                        }
                    }
                    Ok(())
                }
                Some(target) => refuse(format!("citizen {locker} cannot act on locker {target}")),
                None => refuse("only issuers, requesters or the platform emit this".to_owned()),
            },
            _ => refuse(format!("not an event a {:?} emits", actor.kind())),
        }
    }

    fn check_key_owner(
        &self,
        actor: &Actor,
        owner: &Principal,
        payload: &Payload,
    ) -> Result<(), LedgerError> {
        if *actor != Actor::Platform && Principal::from(actor) != *owner {
            return Err(LedgerError::NotPermitted {
                actor_kind: actor.kind(),
                event_kind: payload.kind_name(),
                reason: format!("only the platform or {} itself may change its keys", owner),
            });
        }
        Ok(())
    }

    /// State rules of registry changes: no double registration, keys only for known owners.
    fn check_registry_change(&self, payload: &Payload) -> Result<(), LedgerError> {
        let known = |principal: &Principal| -> Result<&PrincipalState, LedgerError> {
            self.principals
                .get(principal)
                .ok_or_else(|| LedgerError::UnknownActor { actor: principal.to_string() })
        };
        let fresh = |principal: Principal| -> Result<(), LedgerError> {
            if self.principals.contains_key(&principal) {
                return Err(LedgerError::AlreadyRegistered { what: principal.to_string() });
            }
            Ok(())
        };
        match payload {
            Payload::IssuerRegistered(e) => {
                fresh(Principal::Issuer(e.issuer.clone()))?;
                PrincipalState::new(&e.keys).map(|_| ())
            }
            Payload::RequesterRegistered(e) => {
                fresh(Principal::Requester(e.requester.clone()))?;
                PrincipalState::new(&e.keys).map(|_| ())
            }
            Payload::CitizenRegistered(e) => {
                fresh(Principal::Citizen(e.locker))?;
                parse_public_key(&e.key).map(|_| ())
            }
            Payload::KeyRotated(e) => {
                let state = known(&e.owner)?;
                if state.keys.contains_key(&e.new_key.key_id) {
                    return Err(LedgerError::AlreadyRegistered {
                        what: format!("key {}", e.new_key.key_id),
                    });
                }
                if let Some(retired) = &e.retired_key_id
                    && !state.keys.contains_key(retired)
                {
                    return Err(LedgerError::UnknownKey {
                        actor: e.owner.to_string(),
                        key_id: *retired,
                    });
                }
                parse_public_key(&e.new_key).map(|_| ())
            }
            Payload::KeyRevoked(e) => {
                let state = known(&e.owner)?;
                if !state.keys.contains_key(&e.key_id) {
                    return Err(LedgerError::UnknownKey {
                        actor: e.owner.to_string(),
                        key_id: e.key_id,
                    });
                }
                Ok(())
            }
            Payload::OrganisationSuspended(e) => {
                known(&organisation_principal(&e.organisation)).map(|_| ())
            }
            Payload::OrganisationReinstated(e) => {
                known(&organisation_principal(&e.organisation)).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// Applies an event that was checked and appended. Events that do not change the registry
    /// are ignored, so replay can feed every event through here.
    pub fn apply(&mut self, event: &Event) -> Result<(), LedgerError> {
        match &event.payload {
            Payload::IssuerRegistered(e) => {
                let mut state = PrincipalState::new(&e.keys)?;
                state.doc_types = e.doc_types.iter().map(|t| t.code.clone()).collect();
                self.principals.insert(Principal::Issuer(e.issuer.clone()), state);
            }
            Payload::RequesterRegistered(e) => {
                self.principals.insert(
                    Principal::Requester(e.requester.clone()),
                    PrincipalState::new(&e.keys)?,
                );
            }
            Payload::CitizenRegistered(e) => {
                let state = PrincipalState::new(std::slice::from_ref(&e.key))?;
                self.principals.insert(Principal::Citizen(e.locker), state);
            }
            Payload::KeyRotated(e) => {
                let key = parse_public_key(&e.new_key)?;
                let state = self.state_mut(&e.owner)?;
                state.keys.insert(e.new_key.key_id, (LazyKey::parsed(key), KeyStatus::Active));
                if let Some(retired) = &e.retired_key_id
                    && let Some((_, status)) = state.keys.get_mut(retired)
                    && *status == KeyStatus::Active
                {
                    *status = KeyStatus::RotatedOut;
                }
            }
            Payload::KeyRevoked(e) => {
                if let Some((_, status)) = self.state_mut(&e.owner)?.keys.get_mut(&e.key_id) {
                    *status = KeyStatus::Revoked;
                }
            }
            Payload::OrganisationSuspended(e) => {
                self.state_mut(&organisation_principal(&e.organisation))?.suspended = true;
            }
            Payload::OrganisationReinstated(e) => {
                self.state_mut(&organisation_principal(&e.organisation))?.suspended = false;
            }
            // A closed locker's citizen is suspended for good: nothing reinstates a citizen.
            Payload::LockerClosed(e) => {
                self.state_mut(&Principal::Citizen(e.locker))?.suspended = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether `payload` registers a principal this registry already holds (which the log
    /// never does: a snapshot's tail that does so does not belong after it).
    pub fn registers_known(&self, payload: &Payload) -> bool {
        let principal = match payload {
            Payload::IssuerRegistered(e) => Principal::Issuer(e.issuer.clone()),
            Payload::RequesterRegistered(e) => Principal::Requester(e.requester.clone()),
            Payload::CitizenRegistered(e) => Principal::Citizen(e.locker),
            _ => return false,
        };
        self.principals.contains_key(&principal)
    }

    /// The registry as bytes, for a snapshot (`decode` reads them back).
    pub fn encode(&self) -> Result<Vec<u8>, LedgerError> {
        let principals = self
            .principals
            .iter()
            .map(|(principal, state)| {
                let keys = state
                    .keys
                    .iter()
                    .map(|(id, (key, status))| (*id, key.bytes, status.code()))
                    .collect();
                let doc_types = state.doc_types.iter().cloned().collect();
                (principal.clone(), StoredPrincipal { keys, suspended: state.suspended, doc_types })
            })
            .collect();
        bincode::serde::encode_to_vec(StoredRegistry { principals }, snapshot_config())
            .map_err(|e| LedgerError::Snapshot(format!("cannot encode the registry: {e}")))
    }

    /// A registry from `encode`'s bytes. Keys are checked as points when first used.
    pub fn decode(bytes: &[u8]) -> Result<Self, LedgerError> {
        let malformed =
            |e: String| LedgerError::Snapshot(format!("the registry is malformed: {e}"));
        let (stored, used): (StoredRegistry, usize) =
            bincode::serde::decode_from_slice(bytes, snapshot_config())
                .map_err(|e| malformed(e.to_string()))?;
        if used != bytes.len() {
            return Err(malformed(format!("{} bytes after its end", bytes.len() - used)));
        }
        let mut principals = HashMap::with_capacity(stored.principals.len());
        for (principal, state) in stored.principals {
            let mut keys = HashMap::with_capacity(state.keys.len());
            for (id, bytes, status) in state.keys {
                let status = KeyStatus::from_code(status)
                    .ok_or_else(|| malformed(format!("key status {status}")))?;
                keys.insert(id, (LazyKey::stored(bytes), status));
            }
            let doc_types = state.doc_types.into_iter().collect();
            principals
                .insert(principal, PrincipalState { keys, suspended: state.suspended, doc_types });
        }
        Ok(KeyRegistry { principals })
    }

    fn state_mut(&mut self, principal: &Principal) -> Result<&mut PrincipalState, LedgerError> {
        self.principals
            .get_mut(principal)
            .ok_or_else(|| LedgerError::UnknownActor { actor: principal.to_string() })
    }
}

fn organisation_principal(organisation: &Organisation) -> Principal {
    match organisation {
        Organisation::Issuer(id) => Principal::Issuer(id.clone()),
        Organisation::Requester(id) => Principal::Requester(id.clone()),
    }
}

/// The locker a citizen-emitted event acts on, for the kinds a citizen may emit.
fn citizen_locker(payload: &Payload) -> Option<schemas::LockerId> {
    match payload {
        Payload::ProfileUpdated(e) => Some(e.locker),
        Payload::DocumentUploaded(e) => Some(e.locker),
        Payload::UploadDeleted(e) => Some(e.locker),
        Payload::DocumentESigned(e) => Some(e.locker),
        Payload::DocumentShared(e) => Some(e.locker),
        Payload::ShareRevoked(e) => Some(e.locker),
        Payload::ConsentGranted(e) => Some(e.locker),
        Payload::ConsentDenied(e) => Some(e.locker),
        Payload::ConsentRevoked(e) => Some(e.locker),
        Payload::ConsentPaused(e) => Some(e.locker),
        Payload::ConsentResumed(e) => Some(e.locker),
        Payload::LockerClosed(e) => Some(e.locker),
        Payload::DocumentPulled(e) => Some(e.locker),
        _ => None,
    }
}
