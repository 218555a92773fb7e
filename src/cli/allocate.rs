//! `tagtally allocate` and `tagtally items`.

use std::io::Write;

use anyhow::Result;
use chrono::Local;
use tagtally::app::{self, allocate};
use tagtally::config::Settings;
use tagtally::domain::people::Role;

use super::args::{AllocateArgs, ItemsCommand};

/// `tagtally allocate ORDER [--line N] [--json] [--accept | --tag TAG...]`.
pub(crate) fn allocate(settings: &Settings, a: AllocateArgs, out: &mut impl Write) -> Result<()> {
    let mut store = app::open_store(settings)?;
    let today = Local::now().date_naive();
    if a.accept || !a.tags.is_empty() {
        app::act_as(
            &mut store,
            settings,
            a.who.person.as_deref(),
            a.who.pin.as_deref(),
            Role::Supervisor,
        )?;
    }
    if let (false, Some(line)) = (a.tags.is_empty(), a.line.as_deref()) {
        let fit = allocate::choose(&mut store, &settings.rules, &a.order, line, &a.tags, today)?;
        if a.json {
            serde_json::to_writer(&mut *out, &fit)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "Allocated to line {line}: batch {}, {} package(s)",
                fit.batch,
                fit.packages.len()
            )?;
            allocate::print_fit(&fit, out)?;
        }
        return Ok(());
    }
    let plan = allocate::propose(
        &mut store,
        &settings.rules,
        &a.order,
        a.line.as_deref(),
        a.accept,
        today,
    )?;
    if a.json {
        serde_json::to_writer(&mut *out, &plan)?;
        writeln!(out)?;
    } else {
        allocate::print_plan(&plan, out)?;
    }
    Ok(())
}

/// `tagtally items map SKU NAME`, `tagtally items list`.
pub(crate) fn items(settings: &Settings, cmd: ItemsCommand, out: &mut impl Write) -> Result<()> {
    let mut store = app::open_store(settings)?;
    match cmd {
        ItemsCommand::Map { sku, item } => {
            store.map_item(&sku, &item)?;
            writeln!(out, "SKU {} is Metrc item {:?}.", sku.trim(), item.trim())?;
        }
        ItemsCommand::List => allocate::print_items(&store, out)?,
    }
    Ok(())
}
