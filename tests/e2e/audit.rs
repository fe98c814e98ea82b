//! `locker audit verify` on a real deployment's data: the demo served and checkpointed by the
//! real binary, then a record's signature changed in the stopped store: the audit names it.

use std::time::Duration;

use ledger::{EmbeddedLog, Log};

use crate::journey::{gateway, locker, owned, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_names_a_forged_record_in_a_served_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (gateway_url, _sms) = gateway().await;
    let server = serve(&data, &gateway_url, None);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(server);
    let verify = owned(&["audit", "verify", "--data", data.to_str().expect("path")]);
    let (ok, out, err) = locker(verify.clone()).await;
    assert!(ok && out.contains("OK"), "{out} {err}");

    // Change one signature byte of a citizen record, behind the log's back.
    let (partition, offset, signature) = {
        let log = EmbeddedLog::open(data.join("log")).expect("open");
        let mut found = None;
        for partition in 0..log.partitions("locker.events").expect("partitions") {
            if let Some(record) =
                log.read("locker.events", partition, 1, 1).await.expect("read").into_iter().next()
            {
                let signature = schemas::decode_record(&record.value).expect("decode").signature.0;
                found = Some((partition, 1u64, signature));
                break;
            }
        }
        found.expect("a partition with two records")
    };
    {
        let db = rocksdb::DB::open_cf(
            &rocksdb::Options::default(),
            data.join("log"),
            ["records", "ids", "meta"],
        )
        .expect("raw store");
        let records = db.cf_handle("records").expect("records");
        // Key layout of `log/embedded.rs`: topic id (the citizen topic is 1), partition, offset.
        let key: Vec<u8> = [1u32.to_be_bytes(), partition.to_be_bytes()]
            .concat()
            .into_iter()
            .chain(offset.to_be_bytes())
            .collect();
        let mut value = db.get_cf(records, &key).expect("get").expect("record");
        let at = value.windows(64).position(|w| w == signature).expect("signature bytes");
        value[at + 3] ^= 0x40;
        db.put_cf(records, &key, &value).expect("put");
    }
    let (ok, out, _) = locker(verify).await;
    assert!(!ok, "a forged record must fail the audit: {out}");
    assert!(out.contains(&format!("FAILED at locker.events/{partition} offset {offset}")), "{out}");
}
