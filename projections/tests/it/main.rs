//! The projections integration tests: one binary, against the real embedded log and RocksDB.

/// Random valid histories and the in-memory model of their views.
mod history;

use std::collections::BTreeMap;
use std::sync::Arc;

use ledger::world::World;
use ledger::{Appended, EmbeddedLog, Ledger};
use projections::views::ConsentState;
use projections::{CertificateStatus, NoKeys, Opened, ProjectionError, Projector, SealKeys, Views};
use proptest::prelude::*;
use schemas::*;

use history::{DocState, History};

/// Appends every record through the ledger (all must be accepted).
async fn logged(dir: &std::path::Path, world: &World, records: Vec<Vec<u8>>) -> Arc<EmbeddedLog> {
    let log = Arc::new(EmbeddedLog::open(dir.join("log")).expect("open log"));
    let ledger = Ledger::open(Arc::clone(&log), world.config()).await.expect("ledger");
    for chunk in records.chunks(512) {
        for verdict in ledger.append(chunk.to_vec()).await.expect("append") {
            assert!(matches!(verdict, Ok(Appended::New(_))), "{verdict:?}");
        }
    }
    log
}

fn projector(
    log: &Arc<EmbeddedLog>,
    views_dir: &std::path::Path,
    world: &World,
    keys: Arc<dyn SealKeys>,
) -> Projector<EmbeddedLog> {
    let (views, _) = Views::open(views_dir).expect("views");
    Projector::new(Arc::clone(log), Arc::new(views), keys, &world.config())
}

fn world_keys(seed: u64) -> Arc<dyn SealKeys> {
    Arc::new(World::new(seed))
}

/// The views answer what the model says, for every citizen.
fn check_against_model(views: &Views, history: &History) {
    let model = &history.model;
    let now = TimestampMs(0);
    // Every upload of the history has the same content: counted once per live upload, and
    // listed once per deletion, oldest first.
    let content = schemas::Digest32([7; 32]);
    assert_eq!(views.upload_refs(&content).expect("refs"), model.uploads.len() as i64);
    let deleted = views.deleted_contents(None, TimestampMs(i64::MAX), 100_000).expect("deleted");
    assert_eq!(deleted.len(), model.uploads_deleted);
    assert!(deleted.iter().all(|d| d.hash == content));
    assert!(deleted.windows(2).all(|w| w[0].key < w[1].key));
    for citizen in &history.citizens {
        let locker = citizen.locker;
        let page = views.certificates(&locker, now, None, 500).expect("certificates");
        assert!(page.next.is_none());
        let got: BTreeMap<String, CertificateStatus> =
            page.items.iter().map(|c| (c.doc.uri.clone(), c.status)).collect();
        let want: BTreeMap<String, CertificateStatus> = model
            .docs
            .iter()
            .filter(|((l, _), _)| *l == locker)
            .map(|((_, uri), state)| {
                let status = match state {
                    DocState::Issued => CertificateStatus::Active,
                    DocState::Updated => CertificateStatus::Updated,
                    DocState::Revoked => CertificateStatus::Revoked,
                };
                (uri.clone(), status)
            })
            .collect();
        assert_eq!(got, want, "certificates of {locker}");
        let issued_here = want.len() as i64;
        let issuers = views.my_issuers(&locker).expect("my issuers");
        assert_eq!(issuers.iter().map(|i| i.documents).sum::<i64>(), issued_here);
        let uploads: Vec<_> = model.uploads.iter().filter(|((l, _), _)| *l == locker).collect();
        let storage = views.storage(&locker).expect("storage");
        assert_eq!(storage.used_bytes, uploads.iter().map(|(_, size)| **size as i64).sum::<i64>());
        assert_eq!(views.uploads(&locker, None, 500).expect("uploads").items.len(), uploads.len());
        let consents: BTreeMap<Id16, ConsentState> = views
            .consents(&locker, now, None)
            .expect("consents")
            .into_iter()
            .map(|c| (c.consent_id, c.state))
            .collect();
        let want: BTreeMap<Id16, ConsentState> = model
            .consents
            .iter()
            .filter(|((l, _), _)| *l == locker)
            .map(|((_, c), s)| (*c, *s))
            .collect();
        assert_eq!(consents, want, "consents of {locker}");
        let requesters = views.my_requesters(&locker).expect("my requesters");
        let requested: i64 = requesters.iter().map(|r| r.requested).sum();
        let accessed: i64 = requesters.iter().map(|r| r.accessed).sum();
        assert_eq!(requested, model.requested.get(&locker).copied().unwrap_or(0));
        assert_eq!(accessed, model.accessed.get(&locker).copied().unwrap_or(0));
    }
    let stats = views.stats().expect("stats");
    assert_eq!(stats.users, model.users);
    assert_eq!(stats.issued_documents, model.issued);
    assert_eq!(stats.issuers, 1);
    assert_eq!(stats.requesters, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_match_the_model_of_a_random_history() {
    let history = history::generate(11, 6, 400);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &history.world, history.records.clone()).await;
    let projector = projector(&log, &dir.path().join("views"), &history.world, world_keys(11));
    let applied = projector.catch_up().await.expect("catch up");
    assert_eq!(applied, history.records.len() as u64);
    check_against_model(projector.views(), &history);
    // Caught up: nothing more to apply, every partition at its end, no halt.
    assert_eq!(projector.catch_up().await.expect("again"), 0);
    for status in projector.status().await.expect("status") {
        assert_eq!(status.position, status.end, "{status:?}");
        assert!(status.halt.is_none());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Applying in small batches, with the projector and its store torn down and reopened at
    /// random points, ends exactly where a one-shot rebuild ends.
    #[test]
    fn restarts_at_random_points_equal_a_rebuild(
        seed in 0u64..1000,
        batch in 1usize..40,
        restarts in proptest::collection::vec(1usize..60, 1..6),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        runtime.block_on(async {
            let history = history::generate(seed, 4, 150);
            let dir = tempfile::tempdir().expect("tempdir");
            let log = logged(dir.path(), &history.world, history.records.clone()).await;
            let incremental = dir.path().join("incremental");
            let config = history.world.config();
            let partitions: Vec<(String, u32)> = std::iter::once((config.directory_topic.clone(), 0))
                .chain((0..config.citizen_partitions).map(|p| (config.citizen_topic.clone(), p)))
                .collect();
            for (round, steps) in restarts.iter().enumerate() {
                let projector = projector(&log, &incremental, &history.world, world_keys(seed))
                    .with_batch_records(batch);
                // A few batches here and there, then a "crash": projector and store dropped.
                for step in 0..*steps {
                    let (topic, partition) = &partitions[(round * 7 + step * 3) % partitions.len()];
                    projector.step(topic, *partition).await.expect("step");
                }
            }
            let resumed = projector(&log, &incremental, &history.world, world_keys(seed)).with_batch_records(batch);
            resumed.catch_up().await.expect("resume");
            let rebuilt = projector(&log, &dir.path().join("rebuilt"), &history.world, world_keys(seed));
            rebuilt.catch_up().await.expect("rebuild");
            assert_eq!(resumed.views().digest().expect("digest"), rebuilt.views().digest().expect("digest"));
            check_against_model(resumed.views(), &history);
        });
    }
}

fn parse<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("test constant: {e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizens_locker_through_every_view() {
    let mut world = World::new(21);
    let (asha, registration) = world.register_citizen();
    let mut records = vec![world.register_issuer(), world.register_requester(), registration];
    // A marksheet issued to Asha's Aadhaar before she had a locker, then one to her locker.
    let aadhaar = parse(Aadhaar::parse("4991 1866 5246"));
    let aadhaar_ref = ledger::crypto::aadhaar_ref(&world.platform_secret, &aadhaar);
    let mut early = world.marksheet_envelope(&asha, "2023-0000001");
    if let Payload::DocumentIssued(issued) = &mut early.event.payload {
        issued.recipient = Recipient::Aadhaar(aadhaar_ref.clone());
        issued.valid_to = Some(parse(CivilDate::from_ymd(2024, 1, 1)));
    }
    let subject = SealSubject::Aadhaar(aadhaar_ref.keyed_hash);
    let data = PersonalData::Document(DocumentPersonal {
        holder_name: parse(Label::parse("Asha Kumari")),
        date_of_birth: None,
        fields: vec![],
    });
    let (personal, sealed) = world.seal(subject, &data);
    if let Payload::DocumentIssued(issued) = &mut early.event.payload {
        issued.personal = Some(personal);
    }
    let issuer = world.issuer.clone();
    records.push(parse(encode_record(
        &ledger::crypto::sign_event(early.event, &issuer.key, Some(sealed)).expect("sign"),
    )));
    for n in 0..5 {
        records.push(world.issue_marksheet(&asha, &format!("2024-{n:07}")));
    }
    let platform = world.platform.clone();
    let link = Payload::AadhaarLinked(AadhaarLinked { locker: asha.locker, aadhaar: aadhaar_ref });
    records.push(world.record(Actor::Platform, &platform, link, None));
    let (consent, request) = world.request_consent(&asha);
    records.push(request);
    records.push(world.grant_consent(&asha, consent, "in.gov.cbse-HSCER-2024-0000000"));
    let requester = world.requester.clone();
    let access = Payload::DocumentAccessed(DocumentAccessed {
        consent_id: consent,
        requester: requester.id.clone(),
        locker: asha.locker,
        document: DocRef::Issued(parse(DocUri::parse("in.gov.cbse-HSCER-2024-0000000"))),
        content_hash: Digest32([1; 32]),
    });
    records.push(world.record(
        Actor::Requester(requester.id.clone()),
        &requester.key,
        access,
        None,
    ));
    let consent_expires = world.now_ms + 86_400_000;

    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &world, records).await;
    let projector = projector(&log, &dir.path().join("views"), &world, world_keys(21));
    projector.catch_up().await.expect("catch up");
    let views = projector.views();
    let now = TimestampMs(world.now_ms);

    let profile = views.profile(&asha.locker).expect("profile").expect("registered");
    assert!(
        profile.mobile_masked.as_deref().is_some_and(|m| m.starts_with("XXXXXX")),
        "{profile:?}"
    );
    assert_eq!(profile.aadhaar_last4.as_deref(), Some("5246"));

    // Six documents, two pages of four and two, the Aadhaar one last and already expired.
    let first = views.certificates(&asha.locker, now, None, 4).expect("page 1");
    assert_eq!(first.items.len(), 4);
    let second = views.certificates(&asha.locker, now, first.next.as_deref(), 4).expect("page 2");
    assert_eq!(second.items.len(), 2);
    assert!(second.next.is_none());
    let early = &second.items[1];
    assert_eq!(early.doc.uri, "in.gov.cbse-HSCER-2023-0000001");
    assert_eq!(early.status, CertificateStatus::Expired);
    assert_eq!(early.doc.holder_name(world_keys(21).as_ref()).as_deref(), Some("Asha Kumari"));
    assert_eq!(early.issuer_name.as_deref(), Some("Central Board of Secondary Education"));
    assert_eq!(early.doc_type_name.as_deref(), Some("Class XII Marksheet"));
    assert!(first.items.iter().all(|c| c.status == CertificateStatus::Active));
    let bad_cursor = views.certificates(&asha.locker, now, Some("zz"), 4);
    assert!(matches!(bad_cursor, Err(ProjectionError::InvalidCursor(_))));

    let issuers = views.my_issuers(&asha.locker).expect("my issuers");
    assert_eq!(issuers.len(), 1);
    assert_eq!(issuers[0].documents, 6, "five to the locker and one to the linked Aadhaar");
    let requesters = views.my_requesters(&asha.locker).expect("my requesters");
    assert_eq!((requesters[0].requested, requesters[0].accessed), (1, 1));
    assert_eq!(requesters[0].name.as_deref(), Some("State Bank of India"));

    // The consent is active now and expired once its time has passed (injected clock).
    let active = views.consents(&asha.locker, now, Some(ConsentState::Active)).expect("consents");
    assert_eq!(active.len(), 1);
    let later = TimestampMs(consent_expires + 1);
    assert_eq!(
        views.consents(&asha.locker, later, None).expect("later")[0].state,
        ConsentState::Expired
    );
    let of_bank = views.requester_consents("in.co.sbi", now, None, 10).expect("bank's consents");
    assert_eq!(of_bank.items.len(), 1);
    assert_eq!(of_bank.items[0].accesses, 1);

    let activity = views.activity(&asha.locker, None, 10).expect("activity");
    assert_eq!(activity.items.len(), 1);
    assert!(matches!(activity.items[0].accessor, projections::views::Accessor::Requester { .. }));
    assert_eq!(views.issuers(None, 10).expect("directory").items.len(), 1);
    assert_eq!(views.stats().expect("stats").issued_by, vec![("in.gov.cbse".to_owned(), 6)]);

    // Each document and key knows the event behind it (what proof bundles are made from).
    let config = world.config();
    let at = |topic: &str, point: projections::views::LogPoint| {
        let log = Arc::clone(&log);
        let topic = topic.to_owned();
        async move {
            let records = ledger::Log::read(log.as_ref(), &topic, point.partition, point.offset, 1)
                .await
                .expect("read");
            decode_record(&records[0].value).expect("decodes").event.payload
        }
    };
    let doc = &first.items[0].doc;
    let payload = at(&config.citizen_topic, doc.origin).await;
    assert!(matches!(&payload, Payload::DocumentIssued(e) if e.uri.to_string() == doc.uri));
    let issuer_key = ledger::crypto::key_id_of(&world.issuer.key.verifying_key());
    let origin = views
        .key_origin(&Principal::Issuer(world.issuer.id.clone()), &issuer_key)
        .expect("origin")
        .expect("the issuer's key has one");
    assert!(matches!(at(&config.directory_topic, origin).await, Payload::IssuerRegistered(_)));
    let citizen_key = ledger::crypto::key_id_of(&asha.key.verifying_key());
    let origin = views
        .key_origin(&Principal::Citizen(asha.locker), &citizen_key)
        .expect("origin")
        .expect("the citizen's key has one");
    assert!(matches!(at(&config.citizen_topic, origin).await, Payload::CitizenRegistered(_)));
    assert_eq!(
        views.key_origin(&Principal::Citizen(asha.locker), &issuer_key).expect("none"),
        None
    );
}

/// A grant of a consent nobody requested: the ledger accepts it (the signature and the
/// citizen's permission are fine), but the views cannot apply it.
fn orphan_grant(requester: &RequesterId, locker: LockerId) -> Payload {
    Payload::ConsentGranted(ConsentGranted {
        consent_id: Id16([9; 16]),
        requester: requester.clone(),
        locker,
        documents: vec![DocRef::Uploaded(Id16([1; 16]))],
        access_expires_at_ms: TimestampMs(1),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_views_cannot_apply_stops_its_partition_and_only_it() {
    let mut world = World::new(31);
    let (asha, registration) = world.register_citizen();
    let (ravi, ravi_registration) = world.register_citizen();
    let orphan = orphan_grant(&world.requester.id, asha.locker);
    let records = vec![
        world.register_issuer(),
        world.register_requester(),
        registration,
        ravi_registration,
        world.issue_marksheet(&asha, "before"),
        world.record(Actor::Citizen(asha.locker), &asha.key, orphan, None),
        world.issue_marksheet(&asha, "after"),
        world.issue_marksheet(&ravi, "other-citizen"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &world, records).await;
    let views_dir = dir.path().join("views");
    let projector = projector(&log, &views_dir, &world, world_keys(31));
    let err = projector.catch_up().await.expect_err("must halt");
    let ProjectionError::Halted { partition, offset, reason, .. } = &err else { panic!("{err}") };
    assert_eq!(reason, &format!("grant of unknown consent {}", Id16([9; 16])));
    assert!(err.to_string().contains(&format!("partition {partition} stopped at offset {offset}")));
    let now = TimestampMs(0);
    let asha_docs = projector.views().certificates(&asha.locker, now, None, 10).expect("docs");
    assert_eq!(asha_docs.items.len(), 1, "what came before the bad event is applied, not after");
    let status = projector.status().await.expect("status");
    let halted: Vec<_> = status.iter().filter(|s| s.halt.is_some()).collect();
    assert_eq!(halted.len(), 1);
    assert_eq!(halted[0].position, *offset);
    // A reader of the flushed views (the audit, beside the service) sees the halt at once.
    let reader = Views::open_read_only(&views_dir).expect("read-only");
    assert_eq!(reader.halts().expect("halts").len(), 1, "the halt is not on disk");
    // Other partitions are unaffected (unless Ravi shares Asha's); the halt survives a restart.
    let ravi_partition =
        ledger::partition::partition_for(&PartitionKey::Locker(ravi.locker).to_key_bytes(), 8);
    let ravi_docs = projector.views().certificates(&ravi.locker, now, None, 10).expect("docs");
    assert_eq!(ravi_docs.items.len(), usize::from(ravi_partition != *partition));
    drop(projector);
    let again = self::projector(&log, &views_dir, &world, world_keys(31));
    assert!(matches!(again.catch_up().await, Err(ProjectionError::Halted { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_version_change_rebuilds_the_views_by_itself() {
    let history = history::generate(41, 3, 120);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &history.world, history.records.clone()).await;
    let views_dir = dir.path().join("views");
    let digest = {
        let projector = projector(&log, &views_dir, &history.world, world_keys(41));
        projector.catch_up().await.expect("build");
        projector.views().digest().expect("digest")
    };
    {
        // What an older build would have left behind.
        let options = rocksdb::Options::default();
        let names = rocksdb::DB::list_cf(&options, &views_dir).expect("list");
        let db = rocksdb::DB::open_cf(&options, &views_dir, names).expect("raw open");
        let meta = db.cf_handle("meta").expect("meta");
        db.put_cf(meta, b"schema_version", 0u32.to_le_bytes()).expect("downgrade");
    }
    let (views, opened) = Views::open(&views_dir).expect("reopen");
    assert_eq!(opened, Opened::Wiped { found_version: 0 });
    assert_eq!(views.stats().expect("stats").users, 0, "the old views are gone");
    let projector =
        Projector::new(Arc::clone(&log), Arc::new(views), world_keys(41), &history.world.config());
    projector.catch_up().await.expect("rebuild");
    assert_eq!(projector.views().digest().expect("digest"), digest);
    check_against_model(projector.views(), &history);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_keys_personal_fields_are_absent_and_nothing_else_changes() {
    let history = history::generate(51, 3, 80);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &history.world, history.records.clone()).await;
    let projector = projector(&log, &dir.path().join("views"), &history.world, Arc::new(NoKeys));
    projector.catch_up().await.expect("catch up");
    check_against_model(projector.views(), &history);
    let profile =
        projector.views().profile(&history.citizens[0].locker).expect("p").expect("registered");
    assert_eq!(profile.mobile_masked, None);
    // Documents keep their fields sealed: the same document views as with the keys, and
    // their holders' names unreadable without them.
    let keyed = projector_with(&history, &dir.path().join("keyed"), world_keys(51)).await;
    let docs = |views: &Views| {
        let digests = views.family_digests().expect("digests");
        digests.into_iter().find(|(name, _)| *name == projections::views::CF_DOCS)
    };
    assert!(docs(keyed.views()).is_some());
    assert_eq!(docs(keyed.views()), docs(projector.views()));
    let citizen = &history.citizens[0].locker;
    let listed = |keys: &dyn SealKeys, views: &Views| -> Vec<Option<String>> {
        let page = views.certificates(citizen, TimestampMs(0), None, 100).expect("page");
        page.items.iter().map(|c| c.doc.holder_name(keys)).collect()
    };
    let named = listed(world_keys(51).as_ref(), projector.views());
    assert!(named.iter().any(Option::is_some), "{named:?}");
    assert!(listed(&NoKeys, projector.views()).iter().all(Option::is_none));
}

async fn projector_with(
    history: &History,
    dir: &std::path::Path,
    keys: Arc<dyn SealKeys>,
) -> Projector<EmbeddedLog> {
    let log = logged(dir, &history.world, history.records.clone()).await;
    let projector = projector(&log, &dir.join("views"), &history.world, keys);
    projector.catch_up().await.expect("catch up");
    projector
}

/// The same history on a real Kafka broker gives the same views as on the embedded log, and
/// a follower keeps them current as new events arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_are_the_same_on_kafka_and_a_follower_keeps_them_current() {
    let Some(bootstrap) = ledger::log::kafka::test_bootstrap() else { return };
    let history = history::generate(61, 4, 200);
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = logged(dir.path(), &history.world, history.records.clone()).await;
    let reference =
        projector(&embedded, &dir.path().join("embedded-views"), &history.world, world_keys(61));
    reference.catch_up().await.expect("embedded");

    let suffix = rand_core::RngCore::next_u32(&mut rand_core::OsRng);
    let mut config = history.world.config();
    config.directory_topic = format!("proj-directory-{suffix:08x}");
    config.citizen_topic = format!("proj-events-{suffix:08x}");
    let settings = ledger::KafkaSettings::single_broker(&bootstrap, dir.path().join("kafka-index"));
    let kafka = Arc::new(ledger::KafkaLog::open(settings).await.expect("kafka"));
    let ledger = Ledger::open(Arc::clone(&kafka), config.clone()).await.expect("ledger on Kafka");
    let (first, rest) = history.records.split_at(history.records.len() / 2);
    for chunk in first.chunks(256) {
        for verdict in ledger.append(chunk.to_vec()).await.expect("append") {
            assert!(matches!(verdict, Ok(Appended::New(_))), "{verdict:?}");
        }
    }
    let (views, _) = Views::open(dir.path().join("kafka-views")).expect("views");
    let follower = Projector::new(Arc::clone(&kafka), Arc::new(views), world_keys(61), &config);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let following = {
        let follower = follower.clone();
        tokio::spawn(async move { follower.follow(stopped).await })
    };
    for chunk in rest.chunks(256) {
        for verdict in ledger.append(chunk.to_vec()).await.expect("append") {
            assert!(matches!(verdict, Ok(Appended::New(_))), "{verdict:?}");
        }
    }
    // The follower catches up by itself (it waits on the log; nobody calls catch_up).
    let want = reference.views().digest().expect("digest");
    let mut same = false;
    for _ in 0..200 {
        if follower.views().digest().expect("digest") == want {
            same = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop.send(true).expect("stop");
    following.await.expect("join").expect("follower");
    assert!(same, "the views built from Kafka differ from the embedded ones");
    check_against_model(follower.views(), &history);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_of_a_newer_schema_version_halts_with_that_reason() {
    let mut world = World::new(71);
    let (asha, registration) = world.register_citizen();
    let records = vec![world.register_issuer(), registration, world.issue_marksheet(&asha, "V-1")];
    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &world, records).await;
    // A record written by a newer build (envelope version 3), straight into the log.
    let mut newer = world.issue_marksheet(&asha, "V-2");
    newer[0] = 3;
    let key = PartitionKey::Locker(asha.locker).to_key_bytes();
    let request = ledger::AppendRequest {
        id: EventId([2; 16]),
        digest: Digest32([2; 32]),
        key,
        value: newer,
    };
    let topic = world.config().citizen_topic;
    let position =
        ledger::Log::append(log.as_ref(), &topic, vec![request]).await.expect("raw append")[0]
            .as_ref()
            .expect("new")
            .position();
    let projector = projector(&log, &dir.path().join("views"), &world, world_keys(71));
    let err = projector.catch_up().await.expect_err("halt");
    let ProjectionError::Halted { offset, reason, .. } = &err else { panic!("{err}") };
    assert_eq!(*offset, position.offset);
    assert!(reason.contains("unsupported envelope version 3"), "{reason}");
}

/// A follower and explicit catch-ups on the same views at once: one applier per partition at a
/// time, so nothing is applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appliers_apply_each_event_once() {
    let history = history::generate(81, 5, 300);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &history.world, history.records.clone()).await;
    let projector = projector(&log, &dir.path().join("views"), &history.world, world_keys(81))
        .with_batch_records(3);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = {
        let projector = projector.clone();
        tokio::spawn(async move { projector.follow(stopped).await })
    };
    let racers: Vec<_> = (0..3)
        .map(|_| {
            let projector = projector.clone();
            tokio::spawn(async move { projector.catch_up().await })
        })
        .collect();
    for racer in racers {
        racer.await.expect("join").expect("catch up");
    }
    stop.send(true).expect("stop");
    follower.await.expect("join").expect("follow");
    check_against_model(projector.views(), &history);
}

/// A log written before Aadhaar links took their partition's turn may hold two links for one
/// locker (two numbers raced), or one number linked by two lockers. The views take the first
/// link and report the rest; no partition halts, and a rebuild gives the same views whichever
/// partition it applies first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raced_aadhaar_links_are_reported_not_halted_on() {
    let mut world = World::new(22);
    let (asha, asha_registration) = world.register_citizen();
    let (ravi, ravi_registration) = world.register_citizen();
    let mut records = vec![world.register_issuer(), asha_registration, ravi_registration];
    let first = ledger::crypto::aadhaar_ref(
        &world.platform_secret,
        &parse(Aadhaar::parse("4991 1866 5246")),
    );
    let second = ledger::crypto::aadhaar_ref(
        &world.platform_secret,
        &parse(Aadhaar::parse("9999 9999 0019")),
    );
    let platform = world.platform.clone();
    let link = |locker: LockerId, aadhaar: &AadhaarRef| {
        Payload::AadhaarLinked(AadhaarLinked { locker, aadhaar: aadhaar.clone() })
    };
    // Asha links two numbers; then Ravi links Asha's first one, a moment later.
    records.push(world.record(Actor::Platform, &platform, link(asha.locker, &first), None));
    records.push(world.record(Actor::Platform, &platform, link(asha.locker, &second), None));
    world.now_ms += 1;
    records.push(world.record(Actor::Platform, &platform, link(ravi.locker, &first), None));
    // A marksheet issued to the contested number.
    let mut early = world.marksheet_envelope(&asha, "2023-0000001");
    if let Payload::DocumentIssued(issued) = &mut early.event.payload {
        issued.recipient = Recipient::Aadhaar(first.clone());
        issued.personal = None;
    }
    let issuer = world.issuer.clone();
    records.push(parse(encode_record(
        &ledger::crypto::sign_event(early.event, &issuer.key, None).expect("sign"),
    )));

    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &world, records).await;
    let projector = projector(&log, &dir.path().join("views"), &world, world_keys(22));
    projector.catch_up().await.expect("catch up: no partition halts");
    assert!(projector.status().await.expect("status").iter().all(|p| p.halt.is_none()));
    let views = projector.views();
    let profile = views.profile(&asha.locker).expect("profile").expect("asha");
    assert_eq!(profile.aadhaar_last4.as_deref(), Some("5246"), "the first link stands");
    assert_eq!(views.anomalies().expect("anomalies"), 1, "the second link is reported");
    assert_eq!(views.aadhaar_holder(&first.keyed_hash).expect("holder"), Some(asha.locker));
    let now = TimestampMs(world.now_ms);
    let uris = |locker: &LockerId| -> Vec<String> {
        let page = views.certificates(locker, now, None, 10).expect("certificates");
        page.items.into_iter().map(|c| c.doc.uri).collect()
    };
    assert_eq!(uris(&asha.locker), ["in.gov.cbse-HSCER-2023-0000001"]);
    assert!(uris(&ravi.locker).is_empty(), "the later link does not get the documents");
}

/// `LockerClosed` drops the locker from every view, `AadhaarForgotten` the documents issued
/// to its Aadhaar, and a rebuild agrees; a consent on terms pauses, resumes and counts its
/// refused fetches on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_locker_leaves_every_view_and_a_rebuild_agrees() {
    let mut world = World::new(23);
    let (ravi, registration) = world.register_citizen();
    let mut records = vec![world.register_issuer(), world.register_requester(), registration];
    let aadhaar = parse(Aadhaar::parse("4991 1866 5246"));
    let aadhaar_ref = ledger::crypto::aadhaar_ref(&world.platform_secret, &aadhaar);
    let mut early = world.marksheet_envelope(&ravi, "2023-0000001");
    if let Payload::DocumentIssued(issued) = &mut early.event.payload {
        issued.recipient = Recipient::Aadhaar(aadhaar_ref.clone());
        issued.personal = None;
    }
    let issuer = world.issuer.clone();
    records.push(parse(encode_record(
        &ledger::crypto::sign_event(early.event, &issuer.key, None).expect("sign"),
    )));
    records.push(world.issue_marksheet(&ravi, "2024-0000001"));
    let platform = world.platform.clone();
    let hash = aadhaar_ref.keyed_hash;
    let link = Payload::AadhaarLinked(AadhaarLinked { locker: ravi.locker, aadhaar: aadhaar_ref });
    records.push(world.record(Actor::Platform, &platform, link, None));
    let (consent, request) = world.request_consent(&ravi);
    records.push(request);
    records.push(world.grant_consent(&ravi, consent, "in.gov.cbse-HSCER-2024-0000001"));
    let requester = world.requester.id.clone();
    let (locker, key) = (ravi.locker, ravi.key.clone());
    let paused = Payload::ConsentPaused(ConsentPaused {
        consent_id: consent,
        requester: requester.clone(),
        locker,
    });
    records.push(world.record(Actor::Citizen(locker), &key, paused, None));
    let refused = Payload::ConsentFetchRefused(ConsentFetchRefused {
        consent_id: consent,
        requester: requester.clone(),
        locker,
        document: DocRef::Issued(parse(DocUri::parse("in.gov.cbse-HSCER-2024-0000001"))),
        reason: FetchRefusal::Paused,
    });
    records.push(world.record(Actor::Platform, &platform, refused, None));
    let resumed =
        Payload::ConsentResumed(ConsentResumed { consent_id: consent, requester, locker });
    records.push(world.record(Actor::Citizen(locker), &key, resumed, None));
    let close = Payload::LockerClosed(LockerClosed { locker, aadhaar: Some(hash) });
    records.push(world.record(Actor::Citizen(locker), &key, close, None));
    let forgotten = Payload::AadhaarForgotten(AadhaarForgotten { aadhaar: hash, locker });
    records.push(world.record(Actor::Platform, &platform, forgotten, None));

    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &world, records).await;
    let live = projector(&log, &dir.path().join("views"), &world, world_keys(23));
    live.catch_up().await.expect("catch up");
    let views = live.views();
    let now = TimestampMs(world.now_ms);
    assert!(views.profile(&locker).expect("profile").is_none());
    assert!(views.certificates(&locker, now, None, 50).expect("docs").items.is_empty());
    assert!(views.consents(&locker, now, None).expect("consents").is_empty());
    let theirs = views.requester_consents(world.requester.id.as_str(), now, None, 50);
    assert!(theirs.expect("requester's").items.is_empty());
    assert_eq!(views.aadhaar_holder(&hash).expect("holder"), None);
    assert_eq!(views.storage(&locker).expect("storage").used_bytes, 0);
    // The requester's own stream keeps what happened, pause, refusal and resumption included.
    let stream = views.requester_events(world.requester.id.as_str(), 0, None, 100).expect("events");
    let kinds: Vec<_> = stream.iter().map(|(_, e)| e.kind).collect();
    use projections::views::RequesterEventKind as Kind;
    assert!(
        kinds.contains(&Kind::Paused)
            && kinds.contains(&Kind::Refused)
            && kinds.contains(&Kind::Resumed),
        "{kinds:?}"
    );
    let rebuilt = projector(&log, &dir.path().join("rebuilt"), &world, Arc::new(NoKeys));
    rebuilt.catch_up().await.expect("rebuild");
    assert_eq!(rebuilt.views().digest().expect("digest"), views.digest().expect("digest"));
}

/// Appends every record through a ledger that keeps its tail, returning both.
async fn logged_with_tail(
    dir: &std::path::Path,
    world: &World,
    records: Vec<Vec<u8>>,
) -> (Arc<EmbeddedLog>, Arc<ledger::Tail>) {
    let log = Arc::new(EmbeddedLog::open(dir.join("log")).expect("open log"));
    let ledger = Ledger::open(Arc::clone(&log), world.config()).await.expect("ledger");
    let tail = ledger.tail().expect("the embedded log is dense");
    for chunk in records.chunks(512) {
        for verdict in ledger.append(chunk.to_vec()).await.expect("append") {
            assert!(matches!(verdict, Ok(Appended::New(_))), "{verdict:?}");
        }
    }
    (log, tail)
}

/// The events the ledger kept in memory build exactly the views the log builds: applied in
/// small batches, some from the tail and some read back (a hole taken out of the tail), they
/// equal a rebuild from the log alone and the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_fed_by_the_ledgers_tail_equal_a_rebuild_from_the_log() {
    let history = history::generate(17, 6, 400);
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, tail) = logged_with_tail(dir.path(), &history.world, history.records.clone()).await;
    let config = history.world.config();
    let holes = (0..config.citizen_partitions)
        .filter(|p| tail.take_events(&config.citizen_topic, *p, 0, 5).len() == 5)
        .count();
    assert!(holes > 0, "a partition with five records or more");
    let fed = projector(&log, &dir.path().join("fed"), &history.world, world_keys(17))
        .with_batch_records(7)
        .with_tail(Some(Arc::clone(&tail)));
    let applied = fed.catch_up().await.expect("catch up");
    assert_eq!(applied, history.records.len() as u64);
    let (kept, read) = fed.sources().counts();
    assert_eq!(kept + read, applied);
    assert!(read >= 5 * holes as u64 && kept > applied / 2, "kept {kept}, read {read}");
    assert_eq!(tail.held().0, 0, "every kept event was taken");
    let rebuilt = projector(&log, &dir.path().join("rebuilt"), &history.world, world_keys(17));
    rebuilt.catch_up().await.expect("rebuild");
    assert_eq!(rebuilt.sources().counts(), (0, applied));
    assert_eq!(fed.views().digest().expect("digest"), rebuilt.views().digest().expect("digest"));
    check_against_model(fed.views(), &history);
}

/// An event the views cannot apply halts its partition at the same offset whether it came
/// from the tail or the log, with the events before it applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_from_the_tail_the_views_cannot_apply_halts_as_one_read_back() {
    let mut world = World::new(32);
    let (asha, registration) = world.register_citizen();
    let orphan = orphan_grant(&world.requester.id, asha.locker);
    let records = vec![
        world.register_issuer(),
        world.register_requester(),
        registration,
        world.issue_marksheet(&asha, "before"),
        world.record(Actor::Citizen(asha.locker), &asha.key, orphan, None),
        world.issue_marksheet(&asha, "after"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, tail) = logged_with_tail(dir.path(), &world, records).await;
    let fed = projector(&log, &dir.path().join("fed"), &world, world_keys(32))
        .with_tail(Some(Arc::clone(&tail)));
    let from_tail = fed.catch_up().await.expect_err("halts");
    assert!(fed.sources().counts().0 > 0, "the halted batch came from the tail");
    let read = projector(&log, &dir.path().join("read"), &world, world_keys(32));
    let from_log = read.catch_up().await.expect_err("halts");
    assert_eq!(from_tail.to_string(), from_log.to_string());
    assert!(from_tail.to_string().contains("grant of unknown consent"), "{from_tail}");
    assert_eq!(fed.views().digest().expect("digest"), read.views().digest().expect("digest"));
    let docs = fed.views().certificates(&asha.locker, TimestampMs(0), None, 10).expect("docs");
    assert_eq!(docs.items.len(), 1, "the event before the halt is applied, not the one after");
}

/// A follower applies each append as it lands, the way the service's projector runs (woken by
/// the log, taking from the tail), and ends with the model's views. The race the wait in
/// `Projector::kept` is for (the log wakes the follower before the ledger keeps) shows under
/// a bulk load's contention, not here: this test passes without the wait too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_takes_each_append_from_the_tail_as_it_lands() {
    use ledger::Log as _;
    let history = history::generate(23, 6, 300);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).expect("open log"));
    let ledger = Ledger::open(Arc::clone(&log), history.world.config()).await.expect("ledger");
    let follower = projector(&log, &dir.path().join("views"), &history.world, world_keys(23))
        .with_tail(ledger.tail());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let following = {
        let follower = follower.clone();
        tokio::spawn(async move { follower.follow(stopped).await })
    };
    let config = history.world.config();
    for chunk in history.records.chunks(10) {
        for verdict in ledger.append(chunk.to_vec()).await.expect("append") {
            assert!(matches!(verdict, Ok(Appended::New(_))), "{verdict:?}");
        }
        // Each chunk in the views before the next is appended.
        for (topic, partitions) in
            [(&config.directory_topic, 1), (&config.citizen_topic, config.citizen_partitions)]
        {
            for partition in 0..partitions {
                let end = log.end_offset(topic, partition).await.expect("end");
                if end > 0 {
                    let applied = follower
                        .wait_applied(topic, partition, end - 1, std::time::Duration::from_secs(10))
                        .await
                        .expect("applied");
                    assert!(applied, "{topic}/{partition} applied within 10 s");
                }
            }
        }
    }
    stop.send(true).expect("stop");
    following.await.expect("joined").expect("followed");
    let (kept, read) = follower.sources().counts();
    assert_eq!(kept + read, history.records.len() as u64);
    assert!(kept > read, "kept {kept}, read back {read}");
    check_against_model(follower.views(), &history);
}

/// The views skip RocksDB's WAL, so a reader opening them read-only (an auditor beside the
/// service) sees them as of their last flush: at first only their version, and once the
/// follower finds them settled, everything applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_reader_sees_the_views_once_the_follower_flushes_them() {
    let history = history::generate(43, 3, 120);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = logged(dir.path(), &history.world, history.records.clone()).await;
    let views_dir = dir.path().join("views");
    let projector = projector(&log, &views_dir, &history.world, world_keys(43));
    projector.catch_up().await.expect("build");
    let partitions: Vec<(String, u32)> = (projector.status().await.expect("status").into_iter())
        .map(|status| (status.topic, status.partition))
        .collect();
    let applied = |views: &Views| -> u64 {
        partitions.iter().map(|(topic, p)| views.position(topic, *p).expect("position")).sum()
    };
    let live = applied(projector.views());
    assert!(live > 0);
    let reader = Views::open_read_only(&views_dir).expect("the version is on disk from the start");
    assert_eq!(applied(&reader), 0, "nothing flushed yet: a WAL would have shown it");
    assert!(!projector.views().flush_if_settled(u64::MAX, u64::MAX).expect("check"));

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = {
        let projector = projector.clone();
        tokio::spawn(async move { projector.follow(stopped).await })
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while applied(&Views::open_read_only(&views_dir).expect("read-only")) < live {
        assert!(tokio::time::Instant::now() < deadline, "the follower never flushed the views");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop.send(true).expect("stop");
    follower.await.expect("join").expect("follow");
    assert!(!projector.views().flush_if_settled(0, 0).expect("check"), "nothing left to flush");
}
