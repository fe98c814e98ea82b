use ledger::LedgerError;
use schemas::*;

use ledger::world::World;

use crate::{accepted, open, setup};

#[tokio::test]
async fn a_rotated_out_key_signs_nothing_new_even_after_a_restart() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let before_rotation = s.world.issue_marksheet(&citizen, "K-0");
    let first = accepted(s.ledger.append_one(before_rotation.clone()).await);
    let (new_key, rotation) = s.world.rotate_issuer_key();
    accepted(s.ledger.append_one(rotation).await);
    // A retry of an event logged before the rotation is still answered with its position.
    let retry = s.ledger.append_one(before_rotation).await.expect("retry");
    assert_eq!(retry, ledger::Appended::Existing(first));
    let old = s.world.issue_marksheet(&citizen, "K-1");
    let err = s.ledger.append_one(old.clone()).await.expect_err("old key");
    assert!(matches!(err, LedgerError::KeyRotatedOut { .. }), "{err}");
    s.world.issuer.key = new_key;
    accepted(s.ledger.append_one(s.world.issue_marksheet(&citizen, "K-2")).await);
    drop(s.ledger);
    let ledger = open(&s.dir, &s.world).await;
    let err = ledger.append_one(old).await.expect_err("old key after restart");
    assert!(matches!(err, LedgerError::KeyRotatedOut { .. }), "{err}");
    accepted(ledger.append_one(s.world.issue_marksheet(&citizen, "K-3")).await);
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let revoke = Payload::KeyRevoked(KeyRevoked {
        owner: Principal::Issuer(s.world.issuer.id.clone()),
        key_id: ledger::crypto::key_id_of(&s.world.issuer.key.verifying_key()),
        reason: Reason::parse("key leaked").expect("reason"),
    });
    let platform = s.world.platform.clone();
    accepted(s.ledger.append_one(s.world.record(Actor::Platform, &platform, revoke, None)).await);
    let err =
        s.ledger.append_one(s.world.issue_marksheet(&citizen, "V-1")).await.expect_err("revoked");
    assert!(matches!(err, LedgerError::KeyRevoked { .. }), "{err}");
    assert!(err.to_string().ends_with("is revoked"), "{err}");
}

#[tokio::test]
async fn a_suspended_issuer_is_refused_until_reinstated() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let organisation = Organisation::Issuer(s.world.issuer.id.clone());
    let platform = s.world.platform.clone();
    let suspend = Payload::OrganisationSuspended(OrganisationSuspended {
        organisation: organisation.clone(),
        reason: Reason::parse("audit pending").expect("reason"),
    });
    // Suspension and the refused issuance in one call: the registry changes mid-batch.
    let suspension = s.world.record(Actor::Platform, &platform, suspend, None);
    let issuance = s.world.issue_marksheet(&citizen, "S-1");
    let verdicts = s.ledger.append(vec![suspension, issuance]).await.expect("append");
    accepted(verdicts[0].clone_ok());
    assert!(matches!(verdicts[1], Err(LedgerError::ActorSuspended { .. })), "{:?}", verdicts[1]);
    let reinstate = Payload::OrganisationReinstated(OrganisationReinstated { organisation });
    accepted(
        s.ledger.append_one(s.world.record(Actor::Platform, &platform, reinstate, None)).await,
    );
    accepted(s.ledger.append_one(s.world.issue_marksheet(&citizen, "S-2")).await);
}

#[tokio::test]
async fn registrations_cannot_be_repeated_or_forged() {
    let mut s = setup().await;
    let err = s.ledger.append_one(s.world.register_issuer()).await.expect_err("twice");
    assert!(matches!(err, LedgerError::AlreadyRegistered { .. }), "{err}");
    // A registration whose key id does not match its key.
    let platform = s.world.platform.clone();
    let mut key = ledger::crypto::public_key_entry(&s.world.new_key().verifying_key());
    key.key_id.0[0] ^= 1;
    let payload = Payload::RequesterRegistered(RequesterRegistered {
        requester: RequesterId::parse("in.gov.passport").expect("id"),
        name: Label::parse("Passport Seva").expect("label"),
        kind: RequesterKind::GovernmentDepartment,
        keys: vec![key],
    });
    let err = s
        .ledger
        .append_one(s.world.record(Actor::Platform, &platform, payload, None))
        .await
        .expect_err("bad key id");
    assert!(matches!(err, LedgerError::InvalidKey { .. }), "{err}");
}

trait CloneOk {
    fn clone_ok(&self) -> ledger::Verdict;
}

impl CloneOk for ledger::Verdict {
    fn clone_ok(&self) -> ledger::Verdict {
        match self {
            Ok(appended) => Ok(*appended),
            Err(e) => panic!("expected success, got {e}"),
        }
    }
}

#[tokio::test]
async fn a_log_written_under_another_platform_key_is_refused_on_open() {
    let s = setup().await;
    drop(s.ledger);
    let stranger = ledger::world::World::new(999);
    let log = std::sync::Arc::new(
        ledger::EmbeddedLog::open(s.dir.path().join("log")).expect("reopen log"),
    );
    let err = ledger::Ledger::open(log, stranger.config()).await.expect_err("foreign platform key");
    assert!(matches!(err, LedgerError::ForeignLog { .. }), "{err}");
    assert!(err.to_string().contains("another platform key"), "{err}");
    assert!(err.to_string().contains("topic locker.directory partition 0 offset 0"), "{err}");
}

async fn reopen_from(
    dir: &tempfile::TempDir,
    world: &ledger::world::World,
    snapshot: Option<&[u8]>,
) -> (ledger::Ledger<ledger::EmbeddedLog>, ledger::Start) {
    let log =
        std::sync::Arc::new(ledger::EmbeddedLog::open(dir.path().join("log")).expect("open log"));
    ledger::Ledger::open_from(log, world.config(), snapshot).await.expect("open ledger")
}

#[tokio::test]
async fn a_registry_snapshot_starts_the_ledger_with_only_the_tail_replayed() {
    let crate::Setup { dir, mut world, ledger } = setup().await;
    let (citizen, registration) = world.register_citizen();
    accepted(ledger.append_one(registration).await);
    accepted(ledger.append_one(world.issue_marksheet(&citizen, "R-1")).await);
    let snapshot = ledger.snapshot().await.expect("snapshot");
    // After the snapshot: a key rotation (the registry changes) and a new citizen.
    let (new_key, rotation) = world.rotate_issuer_key();
    accepted(ledger.append_one(rotation).await);
    let (late, registration) = world.register_citizen();
    accepted(ledger.append_one(registration).await);
    let old_key_event = world.issue_marksheet(&late, "R-2");
    drop(ledger);

    let (ledger, start) = reopen_from(&dir, &world, Some(&snapshot)).await;
    assert_eq!(start, ledger::Start::Snapshot { replayed: 2 }, "only the tail is read");
    // The registry is whole: the rotation after the snapshot holds, the late citizen is known.
    let err = ledger.append_one(old_key_event).await.expect_err("rotated out");
    assert!(matches!(err, LedgerError::KeyRotatedOut { .. }), "{err}");
    world.issuer.key = new_key;
    accepted(ledger.append_one(world.issue_marksheet(&late, "R-3")).await);
    accepted(ledger.append_one(world.issue_marksheet(&citizen, "R-4")).await);
    drop(ledger);

    // A snapshot altered by one bit, cut short, or of another log: refused, the log replayed.
    // A registry ahead of its marks (its tail would register someone it knows): refused.
    let ahead = {
        let (marks, _) = ledger::snapshot::decode_registry(&snapshot).expect("decode");
        let (ledger, _) = reopen_from(&dir, &world, None).await;
        let later = ledger.snapshot().await.expect("later snapshot");
        let (_, registry) = ledger::snapshot::decode_registry(&later).expect("decode");
        ledger::snapshot::encode_registry(marks, &registry).expect("encode")
    };
    let (_, start) = reopen_from(&dir, &world, Some(&ahead)).await;
    assert!(
        matches!(&start, ledger::Start::Refused { reason, .. } if reason.contains("already knows")),
        "{start:?}"
    );

    let mut flipped = snapshot.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    let other = {
        // The same world (the same platform key and organisations), another history.
        let other = setup().await;
        let mut world = World::new(42);
        world.reseed(7);
        let (_, registration) = world.register_citizen();
        accepted(other.ledger.append_one(registration).await);
        other.ledger.snapshot().await.expect("other snapshot")
    };
    for (bad, why) in [
        (flipped, "altered"),
        (snapshot[..snapshot.len() / 2].to_vec(), "cut short"),
        (other, "of another log"),
    ] {
        let (ledger, start) = reopen_from(&dir, &world, Some(&bad)).await;
        assert!(
            matches!(&start, ledger::Start::Refused { replayed, reason } if *replayed > 2 && !reason.is_empty()),
            "a snapshot {why} must be refused: {start:?}"
        );
        let uri = format!("R-{}", why.replace(' ', "-"));
        accepted(ledger.append_one(world.issue_marksheet(&late, &uri)).await);
    }
}

/// A closed locker takes nothing more: not its citizen's events (its keys sign nothing), not an
/// issuer's document, not a platform event; after a restart too. The Aadhaar's documents are
/// forgotten by the platform alone.
#[tokio::test]
async fn a_closed_locker_takes_nothing_more_from_anyone() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    accepted(s.ledger.append_one(s.world.issue_marksheet(&citizen, "C-1")).await);
    let (consent, request) = s.world.request_consent(&citizen);
    accepted(s.ledger.append_one(request).await);
    let close = Payload::LockerClosed(LockerClosed { locker: citizen.locker, aadhaar: None });
    let closing = s.world.record(Actor::Citizen(citizen.locker), &citizen.key, close.clone(), None);
    // Closing and a later issuance in one call: the registry changes mid-batch.
    let issuance = s.world.issue_marksheet(&citizen, "C-2");
    let verdicts = s.ledger.append(vec![closing, issuance]).await.expect("append");
    accepted(verdicts[0].clone_ok());
    assert!(matches!(verdicts[1], Err(LedgerError::LockerClosed { .. })), "{:?}", verdicts[1]);
    let again = s.world.record(Actor::Citizen(citizen.locker), &citizen.key, close, None);
    let err = s.ledger.append_one(again).await.expect_err("closed twice");
    assert!(matches!(err, LedgerError::LockerClosed { .. }), "{err}");
    let platform = s.world.platform.clone();
    let expiry = Payload::ConsentExpired(ConsentExpired {
        consent_id: consent,
        requester: s.world.requester.id.clone(),
        locker: citizen.locker,
    });
    let err = s
        .ledger
        .append_one(s.world.record(Actor::Platform, &platform, expiry, None))
        .await
        .expect_err("a platform event for a closed locker");
    assert!(matches!(err, LedgerError::LockerClosed { .. }), "{err}");
    let forgotten = Payload::AadhaarForgotten(AadhaarForgotten {
        aadhaar: Digest32([9; 32]),
        locker: citizen.locker,
    });
    let requester = s.world.requester.clone();
    let by_requester = s.world.record(
        Actor::Requester(requester.id.clone()),
        &requester.key,
        forgotten.clone(),
        None,
    );
    let err = s.ledger.append_one(by_requester).await.expect_err("only the platform forgets");
    assert!(matches!(err, LedgerError::NotPermitted { .. }), "{err}");
    accepted(
        s.ledger.append_one(s.world.record(Actor::Platform, &platform, forgotten, None)).await,
    );
    drop(s.ledger);
    let ledger = open(&s.dir, &s.world).await;
    let err = ledger.append_one(s.world.issue_marksheet(&citizen, "C-3")).await.expect_err("after");
    assert!(matches!(err, LedgerError::LockerClosed { .. }), "{err}");
}
