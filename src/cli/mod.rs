//! The command line's parts: its arguments, and the handlers too long to sit in
//! `main.rs`. Binary-only: the library never sees them.

pub(crate) mod allocate;
pub(crate) mod apex;
pub(crate) mod args;
pub(crate) mod floor;
pub(crate) mod leaflink;
pub(crate) mod licenses;
pub(crate) mod metrc;

/// `tagtally leaflink push` and `tagtally apex push`: one round of the write-back
/// (refused writes queued again first with `--retry-failed`); a refused key fails
/// the command.
pub(crate) fn push(
    store: &mut tagtally::store::Store,
    sink: &impl tagtally::writeback::Sink,
    retry_failed: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let platform = sink.platform();
    if retry_failed {
        let n = store.requeue_failed_platform_writes(platform, now)?;
        writeln!(out, "{n} refused writes queued again")?;
    }
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(tagtally::writeback::round(store, sink, now))?;
    writeln!(out, "{}", report.line(platform))?;
    if let Some(k) = report.key {
        anyhow::bail!(k);
    }
    Ok(())
}
