//! `locker audit verify`: replay the whole log, check every signature, permission and
//! checkpoint, and compare the views with a rebuild.

use crate::Exit;
use crate::args::AuditVerifyArgs;

pub(crate) async fn verify(args: AuditVerifyArgs) -> anyhow::Result<()> {
    let AuditVerifyArgs { data, kafka, topic_prefix, ledger_key, report, resume_from, no_views } =
        args;
    let args = server::app::audit::AuditArgs {
        data,
        kafka,
        topic_prefix,
        ledger_key,
        resume_from,
        views: !no_views,
    };
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "locker audit: {bar:30} {pos}/{len} records, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let verdict = server::app::audit::verify(&args, |done, total| {
        bar.set_length(total.max(done));
        bar.set_position(done);
    })
    .await
    .map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    let json = server::app::audit::report_json(&verdict);
    if let Some(path) = report {
        std::fs::write(&path, &json)
            .map_err(|e| anyhow::anyhow!("--report {}: {e}", path.display()))?;
    }
    let result = &verdict.report;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "locker audit: {} records ({} under trusted roots), {} signatures, {} checkpoints verified in {seconds:.1} s ({:.0} records/s)",
        result.records,
        result.trusted_records,
        result.signatures_verified,
        result.checkpoints_verified,
        result.records as f64 / seconds.max(1e-9)
    );
    match &verdict.views {
        server::app::audit::ViewsCheck::NotCompared(why) => {
            println!("locker audit: views not compared ({why})");
        }
        server::app::audit::ViewsCheck::Compared { live, rebuilt, records, .. }
            if live == rebuilt =>
        {
            println!(
                "locker audit: views match a rebuild from the log ({records} records, digest {live})"
            );
        }
        server::app::audit::ViewsCheck::Compared { live, rebuilt, differing, .. } => {
            println!(
                "locker audit: FAILED: the live views (digest {live}) differ from a rebuild from the same log positions (digest {rebuilt}) in {}",
                differing.join(", ")
            );
            return Err(Exit(1).into());
        }
    }
    match &result.failure {
        None => {
            println!("locker audit: OK");
            Ok(())
        }
        Some(failure) => {
            println!("locker audit: FAILED at {failure}");
            Err(Exit(1).into())
        }
    }
}
