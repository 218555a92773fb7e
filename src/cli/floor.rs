//! `tagtally pick`, `load` and `deliver`: the floor on the command line, with the
//! scanner sources they read.

use std::io::{self, Write};

use anyhow::{Context, Result};
use tagtally::app::{self, pick::PickSession};
use tagtally::config::Settings;
use tagtally::scan::{SourceSpec, Sources, open_source};

use super::args::{DeliverArgs, LoadArgs, PickArgs, TransportArgs};

/// `tagtally pick`: answer scans, or record a short or an undo.
pub(crate) fn pick(settings: &Settings, a: PickArgs, out: &mut impl Write) -> Result<()> {
    let PickArgs {
        order,
        json,
        short,
        undo,
        reason,
        sources,
        sync,
        who,
    } = a;
    let mut store = app::open_store(settings)?;
    // Taking a pick back needs a supervisor (on a station with people).
    let needed = if undo.is_some() {
        tagtally::domain::people::Role::Supervisor
    } else {
        tagtally::domain::people::Role::Picker
    };
    app::act_as(
        &mut store,
        settings,
        who.person.as_deref(),
        who.pin.as_deref(),
        needed,
    )?;
    let background = if sync {
        Some(tagtally::sync::cli::start_background(settings)?)
    } else {
        None
    };
    let mut session = PickSession::open_for(&mut store, &order, settings)?;
    let reason = || {
        reason
            .clone()
            .context("--reason is required with --short and --undo")
    };
    if let Some(line) = short {
        let p = session.short(&line, &reason()?)?;
        app::print_progress(&p, &mut *out)?;
    } else if let Some(tag) = undo {
        let p = session.undo(&tag, &reason()?)?;
        app::print_progress(&p, &mut *out)?;
    } else {
        with_sources(&sources, settings, |events| {
            session.run(events, &mut *out, &mut io::stderr(), json)
        })?;
    }
    drop(session);
    if let Some(b) = background {
        b.stop();
    }
    Ok(())
}

/// `tagtally load`: answer dock scans, or remove a package, check, or confirm.
pub(crate) fn load(settings: &Settings, a: LoadArgs, out: &mut impl Write) -> Result<()> {
    let LoadArgs {
        orders,
        json,
        sources,
        check,
        remove,
        reason,
        confirm,
        transport,
        who,
        sync,
    } = a;
    use tagtally::app::ship::{LoadSession, print_checks};
    use tagtally::domain::people::Role;
    let mut store = app::open_store(settings)?;
    let needed = if remove.is_some() {
        Role::Supervisor
    } else {
        Role::Loader
    };
    app::act_as(
        &mut store,
        settings,
        who.person.as_deref(),
        who.pin.as_deref(),
        needed,
    )?;
    let (driver, vehicle) = if confirm {
        transport_of(&store, &transport)?
    } else {
        Default::default()
    };
    let background = sync
        .then(|| tagtally::sync::cli::start_background(settings))
        .transpose()?;
    let mut session = LoadSession::open(
        &mut store,
        &orders,
        settings.tags.parser(),
        settings.rules.clone(),
    )?;
    if let Some(tag) = remove {
        let reason = reason.context("--reason is required with --remove")?;
        session.remove(&tag, &reason)?;
        print_checks(&session.checks(), &mut *out)?;
    } else if confirm {
        let (driver, vehicle) = (driver.expect("checked"), vehicle.expect("checked"));
        let events = session.confirm(
            &driver,
            &vehicle,
            app::docs::manifest_attachment(&settings.ship),
        )?;
        // The confirmation on its own line, then each order's check.
        if let Some(tagtally::domain::EventKind::LoadConfirm(c)) = events.first().map(|e| &e.kind) {
            writeln!(
                out,
                "load {} confirmed: {}, driver {}, vehicle {}",
                c.load,
                app::count(events.len(), "order", "orders"),
                driver.name,
                vehicle.plate
            )?;
        }
        print_checks(&session.checks(), &mut *out)?;
    } else if check {
        print_checks(&session.checks(), &mut *out)?;
    } else {
        with_sources(&sources, settings, |events| {
            session.run(events, &mut *out, &mut io::stderr(), json)
        })?;
        // The summary follows the answers on the same stream, so the two
        // never run together; `--json` output stays one object a line.
        if !json {
            print_checks(&session.checks(), &mut *out)?;
        }
    }
    drop(session);
    if let Some(b) = background {
        b.stop();
    }
    Ok(())
}

/// `tagtally deliver`: answer hand-over scans, or accept, reject, check, or finish.
pub(crate) fn deliver(settings: &Settings, a: DeliverArgs, out: &mut impl Write) -> Result<()> {
    let DeliverArgs {
        order,
        json,
        sources,
        check,
        accept,
        reject,
        reason,
        note,
        finish,
        receiver,
        signature,
        who,
        sync,
    } = a;
    use tagtally::app::ship::{DeliverySession, print_delivery};
    use tagtally::domain::{Decision, RejectReason, people::Role};
    let mut store = app::open_store(settings)?;
    app::act_as(
        &mut store,
        settings,
        who.person.as_deref(),
        who.pin.as_deref(),
        Role::Driver,
    )?;
    let background = sync
        .then(|| tagtally::sync::cli::start_background(settings))
        .transpose()?;
    let mut session = DeliverySession::open(
        &mut store,
        &order,
        settings.tags.parser(),
        settings.rules.clone(),
    )?;
    if let Some(tag) = accept {
        let s = session.decide(&tag, Decision::Accepted)?;
        print_delivery(&s, &mut *out)?;
    } else if let Some(tag) = reject {
        let reason = reason.context("--reason is required with --reject")?;
        let reason = RejectReason::parse(&reason).with_context(|| {
            format!("unknown reason {reason:?}: use damaged, wrong_item, not_ordered, failed_inspection or other (with --note)")
        })?;
        let s = session.decide(&tag, Decision::Rejected { reason, note })?;
        print_delivery(&s, &mut *out)?;
    } else if finish {
        let path = signature.expect("clap requires it");
        let png = std::fs::read(&path)
            .with_context(|| format!("cannot read the signature {}", path.display()))?;
        let ink = tagtally::signature::png_has_ink(&png);
        let s = session.finish(&receiver.unwrap_or_default(), png, ink)?;
        print_delivery(&s, &mut *out)?;
    } else if check {
        print_delivery(&session.state(), &mut *out)?;
    } else {
        with_sources(&sources, settings, |events| {
            session.run(events, &mut *out, &mut io::stderr(), json)
        })?;
        if !json {
            print_delivery(&session.state(), &mut *out)?;
        }
    }
    drop(session);
    if let Some(b) = background {
        b.stop();
    }
    Ok(())
}

/// The driver and vehicle of `load --confirm`: as given, or remembered by name / plate.
fn transport_of(
    store: &tagtally::store::Store,
    t: &TransportArgs,
) -> Result<(
    Option<tagtally::domain::Driver>,
    Option<tagtally::domain::Vehicle>,
)> {
    use tagtally::domain::{Driver, Vehicle};
    let name = t
        .driver
        .as_deref()
        .context("--confirm needs --driver NAME (and its licenses, the first time)")?;
    let plate = t
        .plate
        .as_deref()
        .context("--confirm needs --plate (and --make, --model the first time)")?;
    let known_driver = store
        .recent_drivers(1000)?
        .into_iter()
        .find(|d| d.name.eq_ignore_ascii_case(name.trim()));
    let driver = Driver {
        name: name.into(),
        occupational_license: t
            .occupational_license
            .clone()
            .or_else(|| {
                known_driver
                    .as_ref()
                    .map(|d| d.occupational_license.clone())
            })
            .unwrap_or_default(),
        drivers_license: t
            .drivers_license
            .clone()
            .or_else(|| known_driver.as_ref().map(|d| d.drivers_license.clone()))
            .unwrap_or_default(),
    }
    .check()?;
    let norm = |p: &str| p.replace(' ', "").to_uppercase();
    let known_vehicle = store
        .recent_vehicles(1000)?
        .into_iter()
        .find(|v| norm(&v.plate) == norm(plate));
    let vehicle = Vehicle {
        make: t
            .make
            .clone()
            .or_else(|| known_vehicle.as_ref().map(|v| v.make.clone()))
            .unwrap_or_default(),
        model: t
            .model
            .clone()
            .or_else(|| known_vehicle.as_ref().map(|v| v.model.clone()))
            .unwrap_or_default(),
        plate: plate.into(),
    }
    .check()?;
    Ok((Some(driver), Some(vehicle)))
}

/// Run `f` over the scans of the given sources (or the settings' `scan.sources`, or
/// standard input), then stop the sources, whatever `f` returned.
pub(crate) fn with_sources<E>(
    specs: &[String],
    settings: &Settings,
    f: impl FnOnce(&std::sync::mpsc::Receiver<tagtally::scan::SourceEvent>) -> Result<(), E>,
) -> Result<()>
where
    anyhow::Error: From<E>,
{
    let mut running = start_sources(specs, settings)?;
    let result = f(running.events());
    running.stop();
    Ok(result?)
}

pub(crate) fn start_sources(specs: &[String], settings: &Settings) -> Result<Sources> {
    let specs = if specs.is_empty() {
        &settings.scan.sources[..]
    } else {
        specs
    };
    let specs: Vec<SourceSpec> = if specs.is_empty() {
        vec![SourceSpec::Stdin]
    } else {
        specs
            .iter()
            .map(|s| s.parse::<SourceSpec>().map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?
    };
    let mut running = Sources::new();
    for spec in &specs {
        let source = open_source(spec, settings.scan.max_line_bytes, &settings.tags.parser())
            .map_err(anyhow::Error::msg)?;
        running.start(source);
    }
    Ok(running)
}
