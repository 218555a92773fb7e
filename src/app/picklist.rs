//! The packages of an order in walking order, from the store: what `tagtally status`
//! lists as still to pull, and the paper pick list (`tagtally picklist`). The rules
//! are [`crate::domain::pull`] and [`crate::domain::walk`].

use std::io::Write;

use chrono::Local;

use crate::config::Settings;
use crate::domain::pull::{Pull, Walk, next};
use crate::export::picklist::PickListDoc;
use crate::store::{Store, StoreError};
use crate::tag::MetrcTag;

/// Every allocated package of `order` (number or short id) in walking order, picked
/// or not, with the order's progress.
pub fn pulls(
    store: &Store,
    order: &str,
    settings: &Settings,
) -> Result<
    (
        crate::domain::Order,
        crate::domain::pick::Progress,
        Vec<Pull>,
    ),
    StoreError,
> {
    let order = store.find_order(order)?;
    let (list, state) = store.pick_list(&order)?;
    let tags: Vec<MetrcTag> = order.allocations().map(|a| a.tag).collect();
    let packages = store.packages(&tags)?;
    let walk = Walk::new(&list, &packages, &settings.pick.walk());
    let today = Local::now().date_naive();
    let pulls = walk.pulls(&list, &state, &packages, &settings.rules, today);
    Ok((order, state.progress(&list), pulls))
}

/// The lines of `order` whose allocated packages have no COA (a warning for
/// `tagtally status`; with `[metrc] require_coa` those packages are also blocked).
/// A store that reads no Metrc (no `[metrc]`, and no COA fact from a hub on any of
/// the order's packages) does not track COAs: no warnings unless they are required.
pub fn coa_gaps(
    store: &Store,
    order: &str,
    settings: &Settings,
) -> Result<Vec<crate::domain::coa::CoaGap>, StoreError> {
    let order = store.find_order(order)?;
    let tags: Vec<MetrcTag> = order.allocations().map(|a| a.tag).collect();
    let packages = store.packages(&tags)?;
    let tracked = settings.metrc.is_set()
        || settings.rules.require_coa
        || packages.values().any(|p| p.coa.is_some());
    Ok(if tracked {
        crate::domain::coa::gaps(&order, &packages)
    } else {
        vec![]
    })
}

/// The packages still to pull, grouped by location in walking order, the next one
/// first; nothing when none is left.
pub fn print_to_pull(pulls: &[Pull], out: &mut impl Write) -> std::io::Result<()> {
    let left: Vec<&Pull> = pulls.iter().filter(|p| p.to_pull()).collect();
    if left.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{} to pull, in walking order:",
        super::count(left.len(), "package", "packages")
    )?;
    if let Some(n) = next(pulls, None) {
        writeln!(out, "  Next: {}", super::pick::next_words(n))?;
    }
    for p in left {
        let blocked = p
            .blocked
            .map(|b| {
                format!(
                    "  {}: do not pull",
                    b.word().replace('_', " ").to_uppercase()
                )
            })
            .unwrap_or_default();
        writeln!(
            out,
            "  {:<28} {}  line {:<4} {:<28} {}{blocked}",
            cut(&p.place(), 28),
            p.tag,
            p.line,
            cut(&p.item, 28),
            p.amount()
        )?;
    }
    Ok(())
}

/// `text` cut to `n` characters with an ellipsis.
fn cut(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(n.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The paper pick list of `order`.
pub fn picklist_doc(
    store: &Store,
    order: &str,
    settings: &Settings,
) -> Result<PickListDoc, StoreError> {
    let (order, progress, packages) = pulls(store, order, settings)?;
    Ok(PickListDoc {
        order: order.number,
        buyer: order.buyer,
        buyer_license: order.buyer_license,
        ship_date: order.ship_date,
        made_at: Local::now().format("%Y-%m-%d %H:%M").to_string(),
        packages,
        lines: progress.lines,
    })
}
