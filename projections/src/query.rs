//! The queries the product needs, answered from the views. Lists are paginated with cursors
//! that name the last key returned, so pages stay stable while new events arrive. Expiry is
//! computed at query time from the caller's clock (`now`), never stored.

use schemas::{CivilDate, Digest32, LockerId, TimestampMs};

use crate::ProjectionError;
use crate::limits::{LOCKER_QUOTA_BYTES, PAGE_ITEMS_MAX};
use crate::store::{Views, counter_value, decode};
use crate::views::*;

/// Content a deleted upload named (`Views::deleted_contents`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedContent {
    /// Where the next call starts after this one.
    pub key: Vec<u8>,
    pub deleted_at: TimestampMs,
    pub hash: schemas::Digest32,
}

/// One page of a list; `next` is the cursor for the following page, if there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateStatus {
    Active,
    Updated,
    Expired,
    Revoked,
}

/// A document in My Certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub doc: DocView,
    pub status: CertificateStatus,
    pub issuer_name: Option<String>,
    pub doc_type_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerCount {
    pub issuer: String,
    pub name: Option<String>,
    pub documents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequesterCount {
    pub requester: String,
    pub name: Option<String>,
    pub requested: i64,
    pub accessed: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Storage {
    pub used_bytes: i64,
    pub quota_bytes: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    pub users: i64,
    pub issued_documents: i64,
    pub issuers: i64,
    pub requesters: i64,
    pub issued_by: Vec<(String, i64)>,
}

/// A list cursor (hex of the last key shown) as the key to go on after. Public for the fuzz
/// target: any text is a key or an `InvalidCursor`, never a panic.
pub fn cursor_key(cursor: Option<&str>) -> Result<Option<Vec<u8>>, ProjectionError> {
    cursor
        .map(|text| {
            if text.is_empty() || text.len() > crate::limits::CURSOR_CHARS_MAX {
                return Err(ProjectionError::InvalidCursor(format!(
                    "a cursor has 2 to {} hex digits",
                    crate::limits::CURSOR_CHARS_MAX
                )));
            }
            let bytes: Result<Vec<u8>, _> = (0..text.len())
                .step_by(2)
                .map(|i| {
                    text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()).ok_or(())
                })
                .collect();
            bytes.map_err(|()| ProjectionError::InvalidCursor(format!("{text:?} is not a cursor")))
        })
        .transpose()
}

fn cursor_of(key: &[u8]) -> String {
    schemas::to_hex(key)
}

/// A document's status on a day: revoked, else expired past its `valid_to`, else as issued
/// or updated.
fn status_on(doc: &DocView, today: Option<CivilDate>) -> CertificateStatus {
    match doc.status {
        DocStatus::Revoked(_) => CertificateStatus::Revoked,
        _ if doc.valid_to.zip(today).is_some_and(|(to, today)| to < today) => {
            CertificateStatus::Expired
        }
        DocStatus::Updated => CertificateStatus::Updated,
        DocStatus::Issued => CertificateStatus::Active,
    }
}

/// A document's status at `now` (the caller's clock).
pub fn certificate_status(doc: &DocView, now: TimestampMs) -> CertificateStatus {
    status_on(doc, date_of(now))
}

fn date_of(now: TimestampMs) -> Option<CivilDate> {
    let date = chrono::DateTime::from_timestamp_millis(now.0)?.date_naive();
    CivilDate::from_ymd(
        chrono::Datelike::year(&date),
        chrono::Datelike::month(&date),
        chrono::Datelike::day(&date),
    )
    .ok()
}

/// A consent's state as of `now`.
pub fn effective_state(consent: &ConsentView, now: TimestampMs) -> ConsentState {
    match consent.state {
        ConsentState::Pending if consent.request_expires_at_ms <= now => ConsentState::Expired,
        ConsentState::Active | ConsentState::Paused
            if consent.access_expires_at_ms.is_some_and(|end| end <= now) =>
        {
            ConsentState::Expired
        }
        state => state,
    }
}

impl Views {
    fn page<T: for<'de> serde::Deserialize<'de>>(
        &self,
        cf: &'static str,
        prefix: &[u8],
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<T>, ProjectionError> {
        let after = cursor_key(cursor)?;
        if after.as_ref().is_some_and(|key| !key.starts_with(prefix)) {
            return Err(ProjectionError::ForeignCursor("cursor of another list".to_owned()));
        }
        let limit = limit.clamp(1, PAGE_ITEMS_MAX);
        let rows = self.scan(cf, prefix, after.as_deref(), limit + 1)?;
        let more = rows.len() > limit;
        let rows = &rows[..rows.len().min(limit)];
        let next = if more { rows.last().map(|(key, _)| cursor_of(key)) } else { None };
        let items = rows.iter().map(|(_, value)| decode(value, cf)).collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }

    /// One issued document of an owner (a locker, or an Aadhaar not yet linked).
    pub fn document(&self, owner: &Owner, uri: &str) -> Result<Option<DocView>, ProjectionError> {
        self.get(CF_DOCS, &doc_key(owner, uri))?.map(|bytes| decode(&bytes, CF_DOCS)).transpose()
    }

    pub fn profile(&self, locker: &LockerId) -> Result<Option<ProfileView>, ProjectionError> {
        self.get(CF_PROFILES, &locker.0)?.map(|bytes| decode(&bytes, CF_PROFILES)).transpose()
    }

    fn owners(&self, locker: &LockerId) -> Result<Vec<Owner>, ProjectionError> {
        let mut owners = vec![Owner::Locker(*locker)];
        if let Some(hash) = self.profile(locker)?.and_then(|p| p.aadhaar_hash)
            && self.aadhaar_holder(&hash)? == Some(*locker)
        {
            owners.push(Owner::Aadhaar(hash));
        }
        Ok(owners)
    }

    /// The locker holding an Aadhaar: of the lockers that linked it (one, unless an older log
    /// holds a race the write path now refuses), the first to link it, by event time and then
    /// locker id, so the answer does not depend on which partition the views applied first.
    pub fn aadhaar_holder(&self, aadhaar: &Digest32) -> Result<Option<LockerId>, ProjectionError> {
        let mut first: Option<(TimestampMs, LockerId)> = None;
        for (key, value) in self.scan(CF_AADHAAR, &aadhaar.0, None, usize::MAX)? {
            let Some(locker) = key.get(32..).and_then(|b| <[u8; 16]>::try_from(b).ok()) else {
                continue;
            };
            let linked: TimestampMs = decode(&value, CF_AADHAAR)?;
            let candidate = (linked, LockerId(locker));
            if first.is_none_or(|f| (candidate.0.0, candidate.1.0) < (f.0.0, f.1.0)) {
                first = Some(candidate);
            }
        }
        Ok(first.map(|(_, locker)| locker))
    }

    /// How many events the views passed over instead of halting (`views::CF_ANOMALIES`).
    pub fn anomalies(&self) -> Result<i64, ProjectionError> {
        self.counter(counter::ANOMALIES)
    }

    /// My Certificates, issued part: documents issued to the locker, then those issued to its
    /// linked Aadhaar before the locker existed.
    pub fn certificates(
        &self,
        locker: &LockerId,
        now: TimestampMs,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Certificate>, ProjectionError> {
        let today = date_of(now);
        let owners = self.owners(locker)?;
        let after = cursor_key(cursor)?;
        let start = match &after {
            None => 0,
            Some(key) => {
                owners.iter().position(|owner| key.starts_with(&owner.key())).ok_or_else(|| {
                    ProjectionError::ForeignCursor("cursor of another locker".to_owned())
                })?
            }
        };
        let limit = limit.clamp(1, PAGE_ITEMS_MAX);
        let mut rows = Vec::new();
        for (index, owner) in owners.iter().enumerate().skip(start) {
            let from = if index == start { after.as_deref() } else { None };
            rows.extend(self.scan(CF_DOCS, &owner.key(), from, limit + 1 - rows.len())?);
            if rows.len() > limit {
                break;
            }
        }
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(|(key, _)| cursor_of(key)) } else { None };
        let mut items = Vec::with_capacity(rows.len());
        // A page usually comes from a handful of issuers: look each up once.
        let mut issuers: std::collections::HashMap<String, Option<IssuerView>> = Default::default();
        for (_, value) in rows {
            let doc: DocView = decode(&value, CF_DOCS)?;
            let issuer = match issuers.get(&doc.issuer) {
                Some(found) => found.clone(),
                None => {
                    let found = self
                        .get(CF_ISSUERS, doc.issuer.as_bytes())?
                        .map(|bytes| decode::<IssuerView>(&bytes, CF_ISSUERS))
                        .transpose()?;
                    issuers.insert(doc.issuer.clone(), found.clone());
                    found
                }
            };
            let status = status_on(&doc, today);
            let doc_type_name = issuer.as_ref().and_then(|i| {
                i.doc_types
                    .iter()
                    .find(|(code, _)| *code == doc.doc_type)
                    .map(|(_, name)| name.clone())
            });
            items.push(Certificate {
                issuer_name: issuer.map(|i| i.name),
                doc_type_name,
                status,
                doc,
            });
        }
        Ok(Page { items, next })
    }

    /// My Certificates, uploaded part.
    pub fn uploads(
        &self,
        locker: &LockerId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<UploadView>, ProjectionError> {
        self.page(CF_UPLOADS, &locker.0, cursor, limit)
    }

    /// How many live uploads, in every locker, name this content.
    pub fn upload_refs(&self, hash: &schemas::Digest32) -> Result<i64, ProjectionError> {
        self.counter(&counter::upload_refs(hash))
    }

    /// Content named by deleted uploads, oldest deletion first: after `after` (a `key` this
    /// returned), deleted at or before `until`, at most `limit`.
    pub fn deleted_contents(
        &self,
        after: Option<&[u8]>,
        until: TimestampMs,
        limit: usize,
    ) -> Result<Vec<DeletedContent>, ProjectionError> {
        let mut out = Vec::new();
        for (key, _) in self.scan(CF_DELETED_CONTENT, &[], after, limit)? {
            let parts =
                (key.get(..8).map(<[u8; 8]>::try_from), key.get(8..).map(<[u8; 32]>::try_from));
            let (Some(Ok(at)), Some(Ok(hash))) = parts else {
                return Err(ProjectionError::Corrupt {
                    location: CF_DELETED_CONTENT.to_owned(),
                    reason: format!("a key of {} bytes, not 40", key.len()),
                });
            };
            let at = TimestampMs(i64::from_be_bytes(at));
            if at > until {
                break;
            }
            let hash = schemas::Digest32(hash);
            out.push(DeletedContent { key, deleted_at: at, hash });
        }
        Ok(out)
    }

    pub fn storage(&self, locker: &LockerId) -> Result<Storage, ProjectionError> {
        Ok(Storage {
            used_bytes: self.counter(&counter::quota(locker))?,
            quota_bytes: LOCKER_QUOTA_BYTES,
        })
    }

    /// My Issuer: each issuer's name and how many documents it issued to the citizen, counted
    /// from the documents themselves (a citizen holds few; a counter per citizen and issuer
    /// cost every issued document one more write).
    pub fn my_issuers(&self, locker: &LockerId) -> Result<Vec<IssuerCount>, ProjectionError> {
        let mut counts: Vec<IssuerCount> = Vec::new();
        for owner in self.owners(locker)? {
            for (_, value) in self.scan(CF_DOCS, &owner.key(), None, usize::MAX)? {
                let issuer = decode::<DocView>(&value, CF_DOCS)?.issuer;
                match counts.iter_mut().find(|c| c.issuer == issuer) {
                    Some(count) => count.documents += 1,
                    None => {
                        let name = self
                            .get(CF_ISSUERS, issuer.as_bytes())?
                            .map(|bytes| decode::<IssuerView>(&bytes, CF_ISSUERS).map(|i| i.name))
                            .transpose()?;
                        counts.push(IssuerCount { issuer, name, documents: 1 });
                    }
                }
            }
        }
        Ok(counts)
    }

    /// My Requester: each requester's name, and how many documents it asked for and accessed.
    pub fn my_requesters(&self, locker: &LockerId) -> Result<Vec<RequesterCount>, ProjectionError> {
        let prefix = counter::requested_prefix(locker);
        let mut out = Vec::new();
        for (key, value) in self.scan(CF_COUNTERS, &prefix, None, usize::MAX)? {
            let requester = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            let requested = counter_value(&value);
            let accessed = self.counter(&counter::accessed(locker, &requester))?;
            let name = self
                .get(CF_REQUESTERS, requester.as_bytes())?
                .map(|bytes| decode::<RequesterView>(&bytes, CF_REQUESTERS).map(|r| r.name))
                .transpose()?;
            out.push(RequesterCount { requester, name, requested, accessed });
        }
        Ok(out)
    }

    /// A citizen's consents, with their state as of `now`, optionally of one state only.
    pub fn consents(
        &self,
        locker: &LockerId,
        now: TimestampMs,
        state: Option<ConsentState>,
    ) -> Result<Vec<ConsentView>, ProjectionError> {
        let rows = self.scan(CF_CONSENTS, &locker.0, None, usize::MAX)?;
        let mut out = Vec::new();
        for (_, value) in rows {
            let mut consent: ConsentView = decode(&value, CF_CONSENTS)?;
            consent.state = effective_state(&consent, now);
            if state.is_none_or(|wanted| wanted == consent.state) {
                out.push(consent);
            }
        }
        Ok(out)
    }

    /// A requester's consents across all lockers, paginated.
    pub fn requester_consents(
        &self,
        requester: &str,
        now: TimestampMs,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ConsentView>, ProjectionError> {
        let prefix = [requester.as_bytes(), &[0u8]].concat();
        let lockers: Page<LockerId> = self.page(CF_REQUESTER_CONSENTS, &prefix, cursor, limit)?;
        let after = cursor_key(cursor)?;
        let rows =
            self.scan(CF_REQUESTER_CONSENTS, &prefix, after.as_deref(), lockers.items.len())?;
        let mut items = Vec::with_capacity(rows.len());
        for ((key, _), locker) in rows.iter().zip(&lockers.items) {
            let consent_id = &key[prefix.len()..];
            let bytes =
                self.get(CF_CONSENTS, &[&locker.0[..], consent_id].concat())?.ok_or_else(|| {
                    ProjectionError::Corrupt {
                        location: CF_REQUESTER_CONSENTS.to_owned(),
                        reason: "dangling consent".to_owned(),
                    }
                })?;
            let mut consent: ConsentView = decode(&bytes, CF_CONSENTS)?;
            consent.state = effective_state(&consent, now);
            items.push(consent);
        }
        Ok(Page { items, next: lockers.next })
    }

    /// One upload of a locker.
    pub fn upload(
        &self,
        locker: &LockerId,
        upload_id: &schemas::Id16,
    ) -> Result<Option<UploadView>, ProjectionError> {
        self.get(CF_UPLOADS, &locker_item_key(locker, upload_id))?
            .map(|bytes| decode(&bytes, CF_UPLOADS))
            .transpose()
    }

    /// Where the event that registered a key sits (see `CF_KEY_ORIGINS`).
    pub fn key_origin(
        &self,
        principal: &schemas::Principal,
        key_id: &schemas::KeyId,
    ) -> Result<Option<LogPoint>, ProjectionError> {
        self.get(CF_KEY_ORIGINS, &key_origin_key(principal, key_id))?
            .map(|bytes| decode(&bytes, CF_KEY_ORIGINS))
            .transpose()
    }

    /// One share link of a locker.
    pub fn share(
        &self,
        locker: &LockerId,
        share_id: &schemas::Id16,
    ) -> Result<Option<ShareView>, ProjectionError> {
        self.get(CF_SHARES, &locker_item_key(locker, share_id))?
            .map(|bytes| decode(&bytes, CF_SHARES))
            .transpose()
    }

    /// One consent of a locker, with its state as of `now`.
    pub fn consent(
        &self,
        locker: &LockerId,
        consent_id: &schemas::Id16,
        now: TimestampMs,
    ) -> Result<Option<ConsentView>, ProjectionError> {
        let Some(bytes) = self.get(CF_CONSENTS, &locker_item_key(locker, consent_id))? else {
            return Ok(None);
        };
        let mut consent: ConsentView = decode(&bytes, CF_CONSENTS)?;
        consent.state = effective_state(&consent, now);
        Ok(Some(consent))
    }

    /// Live consents whose time ran out by `now` (and so need a `consent_expired` event), the
    /// earliest first: `(locker, consent id)`.
    pub fn due_consent_expiries(
        &self,
        now: TimestampMs,
        limit: usize,
    ) -> Result<Vec<(LockerId, schemas::Id16)>, ProjectionError> {
        let limit = limit.clamp(1, PAGE_ITEMS_MAX);
        let mut due = Vec::new();
        for (key, _) in self.scan(CF_CONSENT_EXPIRY, b"", None, limit)? {
            let bad = || ProjectionError::Corrupt {
                location: CF_CONSENT_EXPIRY.to_owned(),
                reason: "key is not time || locker || consent".to_owned(),
            };
            let (at, rest) = key.split_first_chunk::<8>().ok_or_else(bad)?;
            if i64::try_from(u64::from_be_bytes(*at)).unwrap_or(i64::MAX) > now.0 {
                break;
            }
            let (locker, consent) = rest.split_first_chunk::<16>().ok_or_else(bad)?;
            let consent = <[u8; 16]>::try_from(consent).map_err(|_| bad())?;
            due.push((LockerId(*locker), schemas::Id16(consent)));
        }
        Ok(due)
    }

    /// A consent as the events left it: its stored state, before expiry by the clock.
    pub fn stored_consent(
        &self,
        locker: &LockerId,
        consent_id: &schemas::Id16,
    ) -> Result<Option<ConsentView>, ProjectionError> {
        self.get(CF_CONSENTS, &locker_item_key(locker, consent_id))?
            .map(|bytes| decode(&bytes, CF_CONSENTS))
            .transpose()
    }

    /// A requester's consent events in one partition, after offset `after` (all when `None`),
    /// in log order: `(offset, event)`.
    pub fn requester_events(
        &self,
        requester: &str,
        partition: u32,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, RequesterEventView)>, ProjectionError> {
        let prefix = requester_events_prefix(requester, partition);
        let after_key = after.map(|offset| requester_event_key(requester, partition, offset));
        let limit = limit.clamp(1, PAGE_ITEMS_MAX);
        self.scan(CF_REQUESTER_EVENTS, &prefix, after_key.as_deref(), limit)?
            .into_iter()
            .map(|(key, value)| {
                let offset = key
                    .get(prefix.len()..)
                    .and_then(|tail| <[u8; 8]>::try_from(tail).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| ProjectionError::Corrupt {
                        location: CF_REQUESTER_EVENTS.to_owned(),
                        reason: "key without an offset".to_owned(),
                    })?;
                Ok((offset, decode(&value, CF_REQUESTER_EVENTS)?))
            })
            .collect()
    }

    /// A citizen's share links; `live` is false once revoked or expired as of `now`.
    pub fn shares(
        &self,
        locker: &LockerId,
        now: TimestampMs,
    ) -> Result<Vec<(ShareView, bool)>, ProjectionError> {
        self.scan(CF_SHARES, &locker.0, None, usize::MAX)?
            .into_iter()
            .map(|(_, value)| {
                let share: ShareView = decode(&value, CF_SHARES)?;
                let live = !share.revoked && now < share.expires_at_ms;
                Ok((share, live))
            })
            .collect()
    }

    /// Who accessed which document, under which consent or share, and when: in log order.
    pub fn activity(
        &self,
        locker: &LockerId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ActivityView>, ProjectionError> {
        self.page(CF_ACTIVITY, &locker.0, cursor, limit)
    }

    /// One issuer's directory entry (its declared doc types with it).
    pub fn issuer(&self, issuer: &str) -> Result<Option<IssuerView>, ProjectionError> {
        self.get(CF_ISSUERS, issuer.as_bytes())?.map(|bytes| decode(&bytes, CF_ISSUERS)).transpose()
    }

    pub fn issuers(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<IssuerView>, ProjectionError> {
        self.page(CF_ISSUERS, b"", cursor, limit)
    }

    pub fn requesters(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<RequesterView>, ProjectionError> {
        self.page(CF_REQUESTERS, b"", cursor, limit)
    }

    /// Platform statistics as DigiLocker publishes them.
    pub fn stats(&self) -> Result<Stats, ProjectionError> {
        let prefix = counter::issued_by("");
        let issued_by = self
            .scan(CF_COUNTERS, &prefix, None, usize::MAX)?
            .into_iter()
            .map(|(key, value)| {
                let issuer = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                (issuer, counter_value(&value))
            })
            .collect();
        Ok(Stats {
            users: self.counter(counter::USERS)?,
            issued_documents: self.counter(counter::ISSUED)?,
            issuers: self.counter(counter::ISSUERS)?,
            requesters: self.counter(counter::REQUESTERS)?,
            issued_by,
        })
    }
}
