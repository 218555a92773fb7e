//! `tagtally licenses ...`: the state's license register and the license hold.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use tagtally::app;
use tagtally::config::Settings;
use tagtally::domain::license::Standing;
use tagtally::domain::people::Role;

use super::args::WhoArgs;

#[derive(Subcommand)]
pub(crate) enum LicensesCommand {
    /// Load the state's license register (CSV, as the state publishes it), replacing
    /// the one held: all or nothing.
    Import {
        file: PathBuf,
        /// Read a known state's list (ny-ocm) instead of the [licenses] columns.
        #[arg(long)]
        preset: Option<String>,
    },
    /// What the register holds, and where an order's buyer license stands.
    Show {
        /// An order number or short id.
        order: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A supervisor releases an order from its license hold, with why.
    Release {
        order: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        who: WhoArgs,
    },
}

pub(crate) fn run(settings: &Settings, cmd: LicensesCommand, out: &mut impl Write) -> Result<()> {
    match cmd {
        LicensesCommand::Import { file, preset } => {
            let mut store = app::open_store(settings)?;
            let n = app::license::import(&mut store, settings, &file, preset.as_deref())?;
            let s = store.register_summary()?;
            writeln!(
                out,
                "imported the license register from {}: {n} licenses, {} active",
                file.display(),
                s.active
            )?;
        }
        LicensesCommand::Show { order, json } => {
            let store = app::open_store(settings)?;
            let s = store.register_summary()?;
            match order {
                None if json => {
                    serde_json::to_writer(&mut *out, &s)?;
                    writeln!(out)?;
                }
                None => {
                    match &s.imported_at {
                        None => {
                            writeln!(out, "no license register imported: orders are not checked")?
                        }
                        Some(at) => writeln!(
                            out,
                            "license register from {} (imported {at}): {} licenses, {} active",
                            s.source.as_deref().unwrap_or("?"),
                            s.licenses,
                            s.active
                        )?,
                    }
                    // Every open order on hold, or released, with why.
                    for o in store.open_orders()? {
                        let (order, standing) = app::license::standing(&store, &o.number)?;
                        if let Some(line) = standing.sentence(&order.number) {
                            writeln!(out, "  {line}")?;
                        }
                    }
                }
                Some(key) => {
                    let (order, standing) = app::license::standing(&store, &key)?;
                    if json {
                        serde_json::to_writer(&mut *out, &standing)?;
                        writeln!(out)?;
                    } else {
                        writeln!(out, "{}", describe(&order.number, &standing))?;
                    }
                }
            }
        }
        LicensesCommand::Release { order, reason, who } => {
            let mut store = app::open_store(settings)?;
            app::act_as(
                &mut store,
                settings,
                who.person.as_deref(),
                who.pin.as_deref(),
                // The role a release needs (`Role::needed_for`): a coordinator, or a
                // supervisor.
                Role::Coordinator,
            )?;
            // The release names the person. On a station without people there is
            // nobody to check the name against: it is recorded as given.
            if store.signed_in().is_none() {
                let Some(name) = who
                    .person
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                else {
                    anyhow::bail!("a release names the supervisor: give --person NAME");
                };
                store.set_signed_in(Some(name));
            }
            let e = app::license::release(&mut store, &order, &reason)?;
            writeln!(
                out,
                "order {} released from its license hold by {} ({}): {}",
                e.order,
                e.person.as_deref().unwrap_or("?"),
                e.id(),
                reason.trim()
            )?;
        }
    }
    Ok(())
}

/// One line for an order's license standing.
pub(crate) fn describe(order: &str, s: &Standing) -> String {
    match s {
        Standing::NotChecked => {
            format!("order {order}: buyer license not checked (no license register imported)")
        }
        Standing::Good => format!("order {order}: buyer license in good standing"),
        _ => s.sentence(order).unwrap_or_default(),
    }
}
