//! The pick screen's list: the packages still to pull in walking order, the next one
//! at the top, filtered by the tapped line and the "show picked" toggle. The station
//! sends every package with each change ([`PickView`]); this keeps the last one and
//! lays out what the screen shows. Walking order and what is next are the domain's
//! ([`crate::domain::pull`]); nothing here sorts.

use std::cell::RefCell;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::{AppWindow, PickAdapter, PullRow};
use crate::app::station::PickView;
use crate::domain::pull::{Pull, next};

thread_local! {
    /// The open order's packages as last sent by the station.
    static PULLS: RefCell<Vec<Pull>> = const { RefCell::new(Vec::new()) };
}

/// Show a new state of the open order: counts, lines and the list.
pub(super) fn show(w: &AppWindow, view: PickView) {
    let pick = w.global::<PickAdapter>();
    super::updates::show_progress(&pick, &view.progress);
    PULLS.with(|p| *p.borrow_mut() = view.pulls);
    render(w);
}

/// Lay the list out again from the last state (the filter or the toggle changed).
pub(super) fn render(w: &AppWindow) {
    let pick = w.global::<PickAdapter>();
    let line = pick.get_selected_line();
    let line = (!line.is_empty()).then(|| line.to_string());
    let show_picked = pick.get_show_picked();
    PULLS.with(|p| {
        let pulls = p.borrow();
        let of_line = |p: &&Pull| line.as_deref().is_none_or(|l| p.line == l);
        let next = next(&pulls, line.as_deref());
        match next {
            Some(n) => {
                pick.set_next_visible(true);
                pick.set_next_place(n.place().into());
                let (head, tail) = n.tag.head_and_six();
                pick.set_next_tag_head(head.into());
                pick.set_next_tag_tail(tail.into());
                let mut what = vec![n.item.clone()];
                let amount = n.amount();
                if !amount.is_empty() {
                    what.push(amount);
                }
                what.push(format!("line {}", n.line));
                pick.set_next_item(what.join("  ·  ").into());
            }
            None => {
                pick.set_next_visible(false);
                let left = pulls.iter().filter(of_line).any(Pull::to_pull);
                pick.set_next_none(
                    if left {
                        "What is left may not ship: tell the coordinator."
                    } else if line.is_some() {
                        "Nothing left to pull on this line."
                    } else {
                        "Nothing left to pull."
                    }
                    .into(),
                );
            }
        }
        let shown: Vec<&Pull> = pulls
            .iter()
            .filter(of_line)
            .filter(|p| p.to_pull() || (show_picked && p.picked.is_some()))
            .collect();
        let left = shown.iter().filter(|p| p.to_pull()).count();
        let title = match &line {
            Some(l) => format!("{} to pull on line {l}", count(left)),
            None => format!("{} to pull", count(left)),
        };
        pick.set_pulls_title(title.into());
        let next_tag = next.map(|n| n.tag.clone());
        let mut last_group: Option<String> = None;
        let rows: Vec<PullRow> = shown
            .into_iter()
            .map(|p| {
                let group = p.group();
                let group_start = last_group.as_ref() != Some(&group);
                last_group = Some(group.clone());
                let (head, tail) = p.tag.head_and_six();
                PullRow {
                    tag_head: head.into(),
                    tag_tail: tail.into(),
                    group: group.into(),
                    group_start,
                    sublocation: p.sublocation.clone().unwrap_or_default().into(),
                    item: p.item.clone().into(),
                    amount: p.amount().into(),
                    line: p.line.clone().into(),
                    picked: p.picked.is_some(),
                    blocked: p.blocked.is_some(),
                    is_next: next_tag.as_ref() == Some(&p.tag),
                    note: note(p).into(),
                }
            })
            .collect();
        pick.set_pulls(ModelRc::new(VecModel::from(rows)));
    });
}

/// Forget the list (the order was left).
pub(super) fn clear() {
    PULLS.with(|p| p.borrow_mut().clear());
}

fn count(n: usize) -> String {
    crate::app::count(n, "package", "packages")
}

/// Who picked it, or why it must stay.
fn note(p: &Pull) -> String {
    if let Some(by) = &p.picked {
        return match &by.person {
            Some(who) => format!("picked by {who} on {}", by.device),
            None => format!("picked on {}", by.device),
        };
    }
    match p.blocked {
        Some(b) => format!(
            "{}: do not pull, tell the coordinator",
            b.word().replace('_', " ").to_uppercase()
        ),
        None => String::new(),
    }
}
