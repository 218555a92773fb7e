//! The `tagtally` command line: parse arguments, load settings, set up tracing, then
//! call into the library.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use tagtally::app;
use tagtally::config::Settings;

mod cli;

use cli::args::{
    Cli, Command, DeviceCommand, HubCommand, Import, ManifestFormat, PicklistFormat, ReportFormat,
    UserCommand,
};
use cli::floor::start_sources;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tagtally: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(db) = cli.db {
        settings.store.path = Some(db);
    }
    init_tracing(&settings.log.filter);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Import(what) => {
            let mut store = app::open_store(&settings)?;
            let msg = match what {
                Import::Packages { file } => app::import_packages(&mut store, &file)?,
                Import::Order { file } => app::import_orders(&mut store, &file)?,
            };
            writeln!(out, "{msg}")?;
        }
        Command::Pick(a) => cli::floor::pick(&settings, a, &mut out)?,
        Command::Allocate(a) => cli::allocate::allocate(&settings, a, &mut out)?,
        Command::Items(cmd) => cli::allocate::items(&settings, cmd, &mut out)?,
        Command::Load(a) => cli::floor::load(&settings, a, &mut out)?,
        Command::Deliver(a) => cli::floor::deliver(&settings, a, &mut out)?,
        Command::Picklist {
            order,
            format,
            out: file,
        } => {
            let store = app::open_store(&settings)?;
            let doc = app::picklist::picklist_doc(&store, &order, &settings)?;
            let bytes = match format {
                PicklistFormat::Pdf => {
                    use std::io::IsTerminal;
                    if file.is_none() && io::stdout().is_terminal() {
                        anyhow::bail!(
                            "not writing a PDF to the terminal: give --out FILE, redirect it, or use --format text"
                        );
                    }
                    tagtally::export::picklist::picklist_pdf(&doc)
                }
                PicklistFormat::Text => {
                    tagtally::export::picklist::picklist_text(&doc).into_bytes()
                }
                PicklistFormat::Json => {
                    let mut j = serde_json::to_vec_pretty(&doc)?;
                    j.push(b'\n');
                    j
                }
            };
            write_out(file.as_deref(), &bytes, &mut out)?;
        }
        Command::Manifest {
            order,
            format,
            out: file,
        } => {
            let store = app::open_store(&settings)?;
            let doc = app::docs::manifest_doc(&store, &settings.ship, &order)
                .map_err(app::AppError::from)?;
            let bytes = match format {
                ManifestFormat::MetrcTemplate => {
                    let mut j = serde_json::to_vec_pretty(&tagtally::export::metrc_template(&doc))?;
                    j.push(b'\n');
                    j
                }
                ManifestFormat::Pdf => tagtally::export::manifest_pdf(&doc),
            };
            write_out(file.as_deref(), &bytes, &mut out)?;
        }
        Command::Report {
            order,
            format,
            out: file,
        } => {
            let store = app::open_store(&settings)?;
            let bytes = match format {
                ReportFormat::Outcome => {
                    let o = app::docs::outcome(&store, &order, settings.metrc.is_set())
                        .map_err(app::AppError::from)?;
                    let mut j = serde_json::to_vec_pretty(&o)?;
                    j.push(b'\n');
                    j
                }
                ReportFormat::Json | ReportFormat::Pdf => {
                    let doc = app::docs::delivery_report_doc(&store, &settings.ship, &order)
                        .map_err(app::AppError::from)?;
                    if matches!(format, ReportFormat::Pdf) {
                        tagtally::export::delivery_report_pdf(&doc)
                    } else {
                        let mut j = serde_json::to_vec_pretty(
                            &tagtally::export::delivery_report_json(&doc),
                        )?;
                        j.push(b'\n');
                        j
                    }
                }
            };
            write_out(file.as_deref(), &bytes, &mut out)?;
        }
        Command::ScanTest { sources, json } => {
            let mut running = start_sources(&sources, &settings)?;
            let result =
                app::scan_test::run(running.events(), &settings.tags.parser(), &mut out, json);
            running.stop();
            result?;
        }
        Command::Decode {
            images,
            json,
            lenient,
            all,
        } => {
            let mut parser = settings.tags.parser();
            parser.lenient |= lenient;
            let mut decoder = tagtally::scan::camera::decode::Decoder::new(parser);
            decoder.stop_at_first_tag = !all;
            let summary = app::decode::run(&images, json, &decoder, &mut out)?;
            if summary.failed > 0 {
                anyhow::bail!(
                    "{} of {} images could not be read",
                    summary.failed,
                    images.len()
                );
            }
        }
        Command::Scanners => {
            let ports = tagtally::scan::serial::list_ports();
            writeln!(out, "serial ports ({}):", ports.len())?;
            for p in ports {
                writeln!(
                    out,
                    "  serial:{}  ({}{})",
                    p.path.display(),
                    p.device.display(),
                    p.usb.map(|u| format!(", USB {u}")).unwrap_or_default()
                )?;
            }
            let inputs = tagtally::scan::hid::list_inputs();
            writeln!(out, "input devices with keys ({}):", inputs.len())?;
            for i in inputs {
                writeln!(
                    out,
                    "  hid:{:04x}:{:04x}  {}  {}{}",
                    i.vendor,
                    i.product,
                    i.path.display(),
                    i.name,
                    if i.looks_like_scanner {
                        "  (looks like a scanner)"
                    } else {
                        ""
                    }
                )?;
            }
            if !Path::new("/dev/input").exists() {
                writeln!(out, "  (this machine has no /dev/input)")?;
            }
            let cameras = tagtally::scan::camera::v4l2::list_cameras();
            writeln!(out, "cameras ({}):", cameras.len())?;
            for (path, card) in cameras {
                writeln!(out, "  camera:{}  {card}", path.display())?;
            }
        }
        Command::Status {
            order,
            json,
            hub: Some(url),
            token,
            follow,
        } => {
            use tagtally::sync::cli as sync_cli;
            let store = if token.is_none() {
                Some(app::open_store(&settings)?)
            } else {
                None
            };
            let client = sync_cli::hub_client(store.as_ref(), &url, token.as_deref())?;
            if follow {
                sync_cli::follow(&client, &order, json, &mut out)?;
            } else {
                let m = sync_cli::hub_status(&client, &order)?;
                if json {
                    serde_json::to_writer(&mut out, &m)?;
                    writeln!(out)?;
                } else {
                    sync_cli::print_merged(&m, &mut out)?;
                }
            }
        }
        Command::Hub {
            listen,
            cert,
            key,
            fault,
            command,
        } => {
            use tagtally::hub::cli as hub_cli;
            let mut store = app::open_store(&settings)?;
            match command {
                None => {
                    let mut options = hub_cli::options(
                        settings.rules.clone(),
                        settings.ship.clone(),
                        fault.as_deref(),
                        cert.as_deref().zip(key.as_deref()),
                    )?;
                    // With [metrc] set up, the hub keeps the package facts fresh.
                    options.metrc = settings.metrc.is_set().then(|| settings.metrc.clone());
                    options.leaflink = settings
                        .leaflink
                        .is_set()
                        .then(|| settings.leaflink.clone());
                    options.apex = settings.apex.is_set().then(|| settings.apex.clone());
                    options.desk = tagtally::hub::DeskOptions::from_settings(&settings);
                    hub_cli::serve(store, &listen, options, &mut out)?;
                }
                Some(HubCommand::EnrollDevice { name }) => {
                    writeln!(out, "{}", hub_cli::enroll(&mut store, &name)?)?
                }
                Some(HubCommand::RevokeDevice { name }) => {
                    writeln!(out, "{}", hub_cli::revoke(&mut store, &name)?)?
                }
                Some(HubCommand::Devices) => hub_cli::devices(&store, &mut out)?,
                Some(HubCommand::SecurityLog) => hub_cli::security_log(&store, &mut out)?,
                Some(HubCommand::User(cmd)) => user(&mut store, &settings, cmd, &mut out)?,
            }
        }
        Command::User(cmd) => {
            let mut store = app::open_store(&settings)?;
            user(&mut store, &settings, cmd, &mut out)?;
        }
        Command::Device(DeviceCommand::Join { url, token, ca }) => {
            let mut store = app::open_store(&settings)?;
            writeln!(
                out,
                "{}",
                tagtally::sync::cli::join(&mut store, &url, &token, ca.as_deref())?
            )?;
        }
        Command::Sync { json } => {
            let mut store = app::open_store(&settings)?;
            let r = tagtally::sync::cli::sync(&mut store, std::time::Duration::from_secs(10))?;
            if json {
                serde_json::to_writer(&mut out, &r)?;
                writeln!(out)?;
            } else {
                writeln!(out, "{}", tagtally::sync::cli::describe(&r))?;
            }
        }
        Command::Status { order, json, .. } => {
            let store = app::open_store(&settings)?;
            let (_, p, pulls) = app::picklist::pulls(&store, &order, &settings)?;
            let held = app::ruling::held(&store, &order)?;
            let receipt =
                app::receipt::receipt(&store, &order, settings.metrc.is_set(), chrono::Utc::now())?;
            let coa_gaps = app::picklist::coa_gaps(&store, &order, &settings)?;
            let (lic_order, license) = app::license::standing(&store, &order)?;
            let written = app::writeback::of_order(&store, &order)?;
            if json {
                let mut v = serde_json::to_value(&p)?;
                v["license"] = serde_json::to_value(&license)?;
                let left: Vec<_> = pulls.iter().filter(|p| p.to_pull()).collect();
                v["to_pull"] = serde_json::to_value(&left)?;
                v["next"] = serde_json::to_value(tagtally::domain::pull::next(&pulls, None))?;
                v["held"] = serde_json::to_value(&held)?;
                v["metrc_receipt"] = serde_json::to_value(&receipt)?;
                v["coa_gaps"] = serde_json::to_value(&coa_gaps)?;
                v["written_back"] = serde_json::to_value(&written)?;
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            } else {
                app::print_progress(&p, &mut out)?;
                if let Some(line) = license.sentence(&lic_order.number) {
                    writeln!(out, "{line}")?;
                }
                for g in &coa_gaps {
                    writeln!(out, "{}", g.sentence())?;
                }
                app::picklist::print_to_pull(&pulls, &mut out)?;
                app::ruling::print_held(&held, &mut out)?;
                if let Some(r) = &receipt {
                    app::receipt::print_receipt(r, &mut out)?;
                }
                if let Some(w) = &written {
                    app::writeback::print(w, &mut out)?;
                }
            }
        }
        Command::Rule(a) => {
            let target: tagtally::domain::EventRef = a.event.parse().map_err(anyhow::Error::msg)?;
            let mut store = app::open_store(&settings)?;
            app::act_as(
                &mut store,
                &settings,
                a.who.person.as_deref(),
                a.who.pin.as_deref(),
                tagtally::domain::people::Role::Supervisor,
            )?;
            let before = app::ruling::standing(&store, &a.order, &target)?;
            let reason = a.reason.unwrap_or_default();
            app::ruling::rule(&mut store, &a.order, &target, a.accept, &reason)?;
            let after = app::ruling::standing(&store, &a.order, &target)?;
            writeln!(
                out,
                "{}",
                app::ruling::describe(&target, a.accept, &before, &after)
            )?;
        }
        Command::Orders { json } => {
            let store = app::open_store(&settings)?;
            let orders = store.open_orders()?;
            if json {
                let mut rows = Vec::new();
                for o in &orders {
                    let (_, license) = app::license::standing(&store, &o.number)?;
                    rows.push(
                        serde_json::json!({"number": o.number, "short_id": o.short_id,
                        "buyer": o.buyer, "status": o.status, "ship_date": o.ship_date,
                        "total": o.total, "picked": o.picked,
                        "others_picking": o.others_picking, "license": license}),
                    );
                }
                serde_json::to_writer(&mut out, &rows)?;
                writeln!(out)?;
            } else {
                for o in orders {
                    let (_, license) = app::license::standing(&store, &o.number)?;
                    let mut others = if o.others_picking.is_empty() {
                        String::new()
                    } else {
                        format!("  also picking: {}", o.others_picking.join(", "))
                    };
                    if let Some(note) = app::license::list_note(&license) {
                        others = format!("  {note}{others}");
                    }
                    writeln!(
                        out,
                        "{:<12} {:<10} {:<28} {:<10} ship {:<10} {}/{} picked{others}",
                        o.number,
                        o.short_id.as_deref().unwrap_or("-"),
                        o.buyer,
                        o.status,
                        o.ship_date.as_deref().unwrap_or("-"),
                        o.picked,
                        o.total
                    )?;
                }
            }
        }
        Command::App => {
            let store = app::open_store(&settings)?;
            let mut ui = tagtally::ui::App::new(&settings, store, false)?;
            ui.start_scanners(&settings).map_err(anyhow::Error::msg)?;
            // A device joined to a hub syncs while the app runs; one that has not
            // joined works on its own database.
            if !ui.start_sync(&settings).map_err(anyhow::Error::msg)? {
                tracing::info!("not joined to a hub (`tagtally device join`): working alone");
            }
            ui.run()?;
        }
        Command::Demo { terminal } => {
            app::demo_shipper(&mut settings.ship);
            let display = std::env::var_os("DISPLAY").is_some()
                || std::env::var_os("WAYLAND_DISPLAY").is_some();
            if terminal || !display {
                if !terminal {
                    eprintln!("tagtally: no display found: running the terminal demo");
                }
                demo(settings, &mut out)?
            } else {
                demo_window(settings)?
            }
        }
        Command::Screenshot {
            screen,
            size,
            out: file,
        } => {
            let (w, h) = size
                .split_once('x')
                .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                .context("--size should be WIDTHxHEIGHT, e.g. 480x800")?;
            tagtally::ui::screenshot::render(&screen, w, h, &file).map_err(anyhow::Error::msg)?;
            writeln!(out, "{}", file.display())?;
        }
        Command::Metrc(cmd) => cli::metrc::run(&settings, cmd, &mut out)?,
        Command::Licenses(cmd) => cli::licenses::run(&settings, cmd, &mut out)?,
        Command::MetrcEmulator(a) => cli::metrc::emulator(a, &mut out)?,
        Command::Leaflink(cmd) => cli::leaflink::run(&settings, cmd, &mut out)?,
        Command::LeaflinkEmulator(a) => cli::leaflink::emulator(a, &mut out)?,
        Command::Apex(cmd) => cli::apex::run(&settings, cmd, &mut out)?,
        Command::ApexEmulator(a) => cli::apex::emulator(a, &mut out)?,
        Command::Coa { order, out: dir } => {
            return cli::metrc::coa(&settings, &order, &dir, &mut out);
        }
        Command::Config => {
            write!(out, "{}", toml::to_string(&settings)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn demo(mut settings: Settings, out: &mut impl Write) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("tagtally-demo-{}", std::process::id()));
    let temporary = settings.store.path.is_none();
    if temporary {
        settings.store.path = Some(dir.join("demo.db"));
    }
    let result = (|| -> Result<()> {
        let mut store = app::open_store(&settings)?;
        app::load_demo(&mut store)?;
        writeln!(out, "{}", tagtally::app::demo_intro())?;
        let mut session = app::pick::PickSession::open_for(&mut store, "SO-1001", &settings)?;
        let mut running = start_sources(&[], &settings)?;
        let result = session.run(running.events(), out, &mut io::stderr(), false);
        running.stop();
        result?;
        writeln!(out)?;
        app::print_progress(&session.progress(), out)?;
        Ok(())
    })();
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn demo_window(mut settings: Settings) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("tagtally-demo-{}", std::process::id()));
    settings.store.path = Some(dir.join("demo.db"));
    let result = (|| -> Result<()> {
        let mut store = app::open_store(&settings)?;
        app::load_demo(&mut store)?;
        app::add_demo_people(&mut store)?;
        let ui = tagtally::ui::App::new(&settings, store, true)?;
        ui.run()?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// `tagtally user ...` and `tagtally hub user ...`: people on this database.
fn user(
    store: &mut tagtally::store::Store,
    settings: &Settings,
    cmd: UserCommand,
    out: &mut impl Write,
) -> Result<()> {
    match cmd {
        UserCommand::Add { name, role, pin } => {
            let role = role.parse().map_err(anyhow::Error::msg)?;
            store.set_person(&name, role, &pin)?;
            writeln!(out, "{name} may sign in as {role}")?;
        }
        UserCommand::List => {
            for p in store.people()? {
                let locked = p
                    .locked_until
                    .map(|u| format!("  (locked until {u})"))
                    .unwrap_or_default();
                writeln!(out, "{:<24} {}{locked}", p.name, p.role)?;
            }
        }
        UserCommand::Check { name, pin } => {
            let rule = settings.people.lockout();
            match store.sign_in(&name, &pin, chrono::Utc::now(), rule)? {
                Ok(p) => writeln!(out, "{} signed in as {}", p.name, p.role)?,
                Err(e) => anyhow::bail!(e),
            }
        }
    }
    Ok(())
}

/// Write a document to `file` (atomically: a temp file renamed into place) or stdout.
fn write_out(file: Option<&Path>, bytes: &[u8], out: &mut impl Write) -> Result<()> {
    match file {
        Some(path) => {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, bytes)
                .and_then(|()| std::fs::rename(&tmp, path))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => out.write_all(bytes)?,
    }
    Ok(())
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .init();
}
