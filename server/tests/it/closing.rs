//! A closing cut short (its `LockerClosed` logged, the rest not done: a crash, an error) is
//! finished when the citizen tries again; a plan whose closing was never logged is dropped and
//! destroys nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ledger::crypto::{key_id_of, sign_event};
use schemas::*;

use crate::routes::{NOW_MS, asha_token, fixture, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_cut_short_is_finished_when_the_citizen_tries_again() {
    let f = fixture().await;
    let token = asha_token(&f);
    let locker = f.citizen;
    let profile = f.state.views.profile(&locker).expect("views").expect("asha");
    let (closed_by, never_logged) = (EventId([0xc1; 16]), EventId([0xc2; 16]));
    let plan = |id: &EventId, locker: &LockerId| {
        serde_json::json!({
            "closed_by": id, "locker": locker, "username": "asha",
            "mobile_ref": profile.mobile_ref, "aadhaar": profile.aadhaar_hash, "uploads": [],
        })
        .to_string()
    };
    let stranger = LockerId::from_random_bytes([0x5e; 16]);
    let vault = &f.state.vault;
    vault.begin_closing(&closed_by, plan(&closed_by, &locker).as_bytes()).expect("plan");
    vault.begin_closing(&never_logged, plan(&never_logged, &stranger).as_bytes()).expect("plan");
    // The closing is logged, and the service stops there.
    let key = vault.signing_key(&locker).expect("asha's signing key");
    let event = Event {
        id: closed_by,
        occurred_at_ms: TimestampMs(NOW_MS),
        actor: Actor::Citizen(locker),
        key_id: key_id_of(&key.verifying_key()),
        payload: Payload::LockerClosed(LockerClosed { locker, aadhaar: profile.aadhaar_hash }),
    };
    let record = encode_record(&sign_event(event, &key, None).expect("sign")).expect("encode");
    f.ledger.append_one(record).await.expect("logged");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while f.state.views.profile(&locker).expect("views").is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the views never dropped the locker");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let account = f.state.accounts.login("asha", "asha-demo-2024", TimestampMs(NOW_MS));
    assert!(account.is_ok(), "cut short: the account is still there");

    let request = Request::post("/v1/citizen/close")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"password":"asha-demo-2024"}"#))
        .expect("request");
    let (status, answer) = run(&f, request).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::GONE, Some("locker_closed")));
    assert!(vault.pending_closings().expect("plans").is_empty(), "both plans are done");
    assert!(vault.signing_key(&locker).is_none(), "the signing key is destroyed");
    let login = f.state.accounts.login("asha", "asha-demo-2024", TimestampMs(NOW_MS));
    assert!(login.is_err(), "the account is gone");
    // The plan whose closing was never logged destroyed nothing of that locker.
    let names = vault.names().expect("names");
    assert!(!names.iter().any(|n| n.ends_with(&stranger.0) && n[0] == b'T'), "{names:?}");
}
