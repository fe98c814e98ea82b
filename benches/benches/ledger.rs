//! Criterion benches: primitives, codec and verified durable append, in one run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer, SigningKey};
use ledger::crypto::{VerifyItem, verify_all};
use locker_benches::{Marksheets, ledger, signatures};

fn primitives(c: &mut Criterion) {
    let records = Marksheets::new(16).take(1024);
    let sigs = signatures(&records);
    let items: Vec<VerifyItem<'_>> =
        sigs.iter().map(|(m, s, k)| VerifyItem { message: m, signature: s, key: k }).collect();
    let key = SigningKey::from_bytes(&[7; 32]);
    let message = &sigs[0].0;

    let mut group = c.benchmark_group("ed25519");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign", |b| b.iter(|| key.sign(black_box(message))));
    let signature = Signature::from_bytes(sigs[0].1.as_bytes());
    group.bench_function("verify", |b| b.iter(|| sigs[0].2.verify_strict(message, &signature)));
    group.throughput(Throughput::Elements(64));
    group.bench_function("batch_verify_64_one_core", |b| {
        let messages: Vec<&[u8]> = sigs[..64].iter().map(|(m, _, _)| m.as_slice()).collect();
        let signatures: Vec<Signature> =
            sigs[..64].iter().map(|(_, s, _)| Signature::from_bytes(s.as_bytes())).collect();
        let keys: Vec<_> = sigs[..64].iter().map(|(_, _, k)| *k).collect();
        b.iter(|| ed25519_dalek::verify_batch(&messages, &signatures, &keys).expect("valid"))
    });
    group.throughput(Throughput::Elements(items.len() as u64));
    group.bench_function("parallel_batch_verify_1024", |b| {
        b.iter(|| assert!(verify_all(black_box(&items)).iter().all(|ok| *ok)))
    });
    group.finish();

    let mut group = c.benchmark_group("blake3");
    group.throughput(Throughput::Bytes(500));
    group.bench_function("hash_500_bytes", |b| {
        b.iter(|| blake3::hash(black_box(&records[0][..500])))
    });
    group.finish();

    let record = &records[0];
    let envelope = schemas::decode_record(record).expect("decodes");
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_record", |b| {
        b.iter(|| schemas::encode_record(black_box(&envelope)))
    });
    group.bench_function("decode_record", |b| b.iter(|| schemas::decode_record(black_box(record))));
    group.finish();
}

fn append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut source = Marksheets::new(512);
    let mut group = c.benchmark_group("append_verified_durable");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for batch in [1usize, 64, 1024] {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = runtime.block_on(ledger(dir.path(), &source.registrations));
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    // Fresh events every time: an event is appended once, repeats are no-ops.
                    let records = source.take(batch);
                    let start = Instant::now();
                    let verdicts = runtime.block_on(ledger.append(records)).expect("append");
                    elapsed += start.elapsed();
                    assert!(verdicts.iter().all(|v| matches!(v, Ok(ledger::Appended::New(_)))));
                }
                elapsed
            })
        });
    }
    group.finish();
}

/// A proof bundle checked as the browser and `locker verify-bundle` check it (a demo
/// marksheet: three signatures, an inclusion proof, JSON), beside one raw Ed25519
/// verification in the same run.
fn bundle(c: &mut Criterion) {
    let bundle = include_bytes!("../../verifier/tests/fixtures/marksheet.locker-bundle.json");
    let pdf = include_bytes!("../../verifier/tests/fixtures/marksheet.pdf");
    let key = verifier::parse_hex_key(include_str!("../../verifier/tests/fixtures/ledger-key.hex"))
        .expect("the fixture's key");
    let signer = SigningKey::from_bytes(&[7; 32]);
    let message = b"a message of some length, as a record would be";
    let signature = signer.sign(message);
    let public = signer.verifying_key();
    let mut group = c.benchmark_group("bundle");
    group.bench_function("raw_verify", |b| {
        b.iter(|| public.verify_strict(black_box(message), &signature))
    });
    group.bench_function("verify_bundle_file", |b| {
        b.iter(|| verifier::verify_bundle_file(black_box(bundle), &key, Some(pdf)))
    });
    group.finish();
}

criterion_group!(benches, primitives, append, bundle);
criterion_main!(benches);
