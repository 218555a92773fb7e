//! The `tagtally` command line: parse arguments, load settings, set up tracing, then
//! call into the library.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tagtally::app::{self, pick::PickSession};
use tagtally::config::Settings;
use tagtally::scan::{SourceSpec, Sources, open_source};

#[derive(Parser)]
#[command(
    name = "tagtally",
    version,
    about = "Metrc tag checks for pick, load and delivery"
)]
struct Cli {
    /// Database file (overrides the `store.path` setting).
    #[arg(long, global = true, env = "TAGTALLY_DB")]
    db: Option<PathBuf>,
    /// Site config file (TOML), layered over the built-in defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import Metrc packages or an order with its allocation.
    #[command(subcommand)]
    Import(Import),
    /// Pick an order: read scanner lines from standard input and answer each one.
    Pick {
        /// Order number or short id.
        order: String,
        /// One JSON object per answer instead of text.
        #[arg(long)]
        json: bool,
        /// Record a short pick for this line instead of scanning (needs --reason).
        #[arg(long, value_name = "LINE", conflicts_with = "undo")]
        short: Option<String>,
        /// Take back the pick of this tag instead of scanning (needs --reason).
        #[arg(long, value_name = "TAG")]
        undo: Option<String>,
        /// Why the line is short, or why the pick is undone.
        #[arg(long)]
        reason: Option<String>,
        /// Scanner source(s) to read instead of standard input, e.g.
        /// `serial:/dev/ttyACM0?baud=9600`, `hid:0c2e:0b61`, `replay:FILE` (repeatable).
        #[arg(long = "source", value_name = "SPEC")]
        sources: Vec<String>,
        /// Sync with the joined hub in the background while picking (never blocks a scan).
        #[arg(long)]
        sync: bool,
        #[command(flatten)]
        who: WhoArgs,
    },
    /// Load picked orders onto a vehicle: read scanner lines from standard input (or
    /// --source) and answer each; or remove a package, show the check, or confirm.
    Load {
        /// Order number(s) or short id(s): several orders make one route.
        #[arg(required = true)]
        orders: Vec<String>,
        /// One JSON object per answer instead of text.
        #[arg(long)]
        json: bool,
        #[arg(long = "source", value_name = "SPEC")]
        sources: Vec<String>,
        /// Print loaded against the manifest (missing, extra) and stop.
        #[arg(long, conflicts_with_all = ["remove", "confirm"])]
        check: bool,
        /// A supervisor takes this package off the shipment (needs --reason).
        #[arg(long, value_name = "TAG", conflicts_with = "confirm")]
        remove: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// Confirm the load (loaded must equal the manifest), with driver and vehicle.
        #[arg(long)]
        confirm: bool,
        #[command(flatten)]
        transport: TransportArgs,
        #[command(flatten)]
        who: WhoArgs,
        /// Sync with the joined hub in the background meanwhile.
        #[arg(long)]
        sync: bool,
    },
    /// Deliver a loaded order: read hand-over scans from standard input (or --source)
    /// and answer each; or accept / reject a package, show the state, or finish.
    Deliver {
        order: String,
        #[arg(long)]
        json: bool,
        #[arg(long = "source", value_name = "SPEC")]
        sources: Vec<String>,
        /// Print per package accepted / rejected / not yet scanned and stop.
        #[arg(long, conflicts_with_all = ["accept", "reject", "finish"])]
        check: bool,
        /// The receiver accepts this package (after a rejection, say).
        #[arg(long, value_name = "TAG", conflicts_with_all = ["reject", "finish"])]
        accept: Option<String>,
        /// The receiver rejects this whole package (needs --reason: damaged,
        /// wrong_item, not_ordered, failed_inspection or other with --note).
        #[arg(long, value_name = "TAG", conflicts_with = "finish")]
        reject: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        note: Option<String>,
        /// Finish the delivery (every package accepted or rejected), signed.
        #[arg(long, requires_all = ["receiver", "signature"])]
        finish: bool,
        /// The receiver's name.
        #[arg(long)]
        receiver: Option<String>,
        /// The receiver's signature as a PNG image.
        #[arg(long, value_name = "PNG")]
        signature: Option<PathBuf>,
        #[command(flatten)]
        who: WhoArgs,
        #[arg(long)]
        sync: bool,
    },
    /// The paper of a confirmed load: the Metrc transfer template (JSON body of
    /// POST /transfers/v2/templates/outgoing) or a printable manifest PDF. Every order
    /// of ORDER's load is a destination.
    Manifest {
        order: String,
        #[arg(long, value_enum, default_value = "metrc-template")]
        format: ManifestFormat,
        /// Write to this file (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// What came of an order: its stage, load and delivery with returns (`outcome`),
    /// or the delivery report for the coordinator (`json` or `pdf`).
    Report {
        order: String,
        #[arg(long, value_enum, default_value = "outcome")]
        format: ReportFormat,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print each scan from the given source(s) as it arrives: source, raw bytes, tag.
    ScanTest {
        /// Scanner source(s), as for `pick --source` (default: standard input).
        #[arg(long = "source", value_name = "SPEC")]
        sources: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the serial ports and input devices that could be scanners.
    Scanners,
    /// Decode still images (PNG, JPEG) as camera frames: the tags found, any other
    /// barcode as not a tag, and the decode time of each.
    Decode {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Accept lenient [0-9A-Z]{24} tags (as `tags.lenient`).
        #[arg(long)]
        lenient: bool,
        /// List every barcode in each image, not just up to the first tag.
        #[arg(long)]
        all: bool,
    },
    /// Show an order's progress per line.
    Status {
        order: String,
        #[arg(long)]
        json: bool,
        /// Ask this hub for the merged state of all devices instead of this database.
        #[arg(long, value_name = "URL")]
        hub: Option<String>,
        /// Device token for --hub (default: the token this database joined with).
        #[arg(long, env = "TAGTALLY_HUB_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// With --hub: print the merged state again on every change until the hub stops.
        #[arg(long, requires = "hub")]
        follow: bool,
    },
    /// Run the facility hub, or manage its devices.
    #[command(args_conflicts_with_subcommands = true)]
    Hub {
        /// Address to serve on, e.g. 0.0.0.0:7878 (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: String,
        /// Serve HTTPS with this PEM certificate chain (needs --key).
        #[arg(long, requires = "key", value_name = "PEM")]
        cert: Option<PathBuf>,
        /// The PEM private key of --cert.
        #[arg(long, requires = "cert", value_name = "PEM")]
        key: Option<PathBuf>,
        /// Test only: stall pushes at a point, for crash tests.
        #[arg(long, hide = true, env = "TAGTALLY_HUB_FAULT")]
        fault: Option<String>,
        #[command(subcommand)]
        command: Option<HubCommand>,
    },
    /// Join this device to a hub.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// People who sign in, with a role and a PIN.
    #[command(subcommand)]
    User(UserCommand),
    /// Push this device's queued events to the hub and pull orders and other devices' picks.
    Sync {
        #[arg(long)]
        json: bool,
    },
    /// List the open orders.
    Orders {
        #[arg(long)]
        json: bool,
    },
    /// Open the touch app (station from the settings).
    App,
    /// Try every verdict on shipped demo data in a temporary database: the touch app
    /// with a demo scanner panel, or the terminal version with --terminal (also used
    /// when there is no display).
    Demo {
        #[arg(long)]
        terminal: bool,
    },
    /// Render a screen with the demo data to a PNG, without a display.
    Screenshot {
        /// orders, pick, accepted, rejected or short.
        #[arg(long, default_value = "pick")]
        screen: String,
        /// WIDTHxHEIGHT in pixels, e.g. 480x800 (handheld) or 1280x800 (kiosk).
        #[arg(long, default_value = "1280x800")]
        size: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the effective settings (all layers applied) as TOML.
    Config,
}

#[derive(Subcommand)]
enum HubCommand {
    /// Enrol a device; prints its token once.
    EnrollDevice { name: String },
    /// Revoke a device: its token is refused from now on.
    RevokeDevice { name: String },
    /// List enrolled devices.
    Devices,
    /// Print the security log (altered replays, forged and revoked tokens).
    SecurityLog,
    /// People who sign in on the floor (the hub hands them to its devices).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// Check TOKEN with the hub at URL and keep both in this database.
    Join {
        url: String,
        token: String,
        /// For an https hub with its own certificate: the PEM certificate to trust.
        #[arg(long, value_name = "PEM")]
        ca: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a person, or give one a new role and PIN (which also lifts a lock-out).
    Add {
        name: String,
        /// picker, loader, driver or supervisor.
        #[arg(long)]
        role: String,
        /// 4 to 8 digits.
        #[arg(long, env = "TAGTALLY_PIN", hide_env_values = true)]
        pin: String,
    },
    /// List the people (never their PINs).
    List,
    /// Check a PIN as the sign-in screen does (wrong PINs count toward a lock-out).
    Check {
        name: String,
        #[arg(long, env = "TAGTALLY_PIN", hide_env_values = true)]
        pin: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ManifestFormat {
    MetrcTemplate,
    Pdf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Outcome,
    Json,
    Pdf,
}

/// Driver and vehicle of a load. A name (or plate) the dock has loaded with before
/// needs nothing else.
#[derive(clap::Args, Default)]
struct TransportArgs {
    #[arg(long, value_name = "NAME")]
    driver: Option<String>,
    #[arg(long, value_name = "NUMBER")]
    occupational_license: Option<String>,
    #[arg(long, value_name = "NUMBER")]
    drivers_license: Option<String>,
    #[arg(long)]
    make: Option<String>,
    #[arg(long)]
    model: Option<String>,
    #[arg(long)]
    plate: Option<String>,
}

/// Who acts, on a station with people (checked like the sign-in screen).
#[derive(clap::Args, Default)]
struct WhoArgs {
    #[arg(long, value_name = "NAME")]
    person: Option<String>,
    #[arg(long, env = "TAGTALLY_PIN", hide_env_values = true)]
    pin: Option<String>,
}

#[derive(Subcommand)]
enum Import {
    /// Metrc package JSON (v1 array or v2 {"Data": [...]}).
    Packages { file: PathBuf },
    /// A LeafLink order (JSON) or an order CSV with header order,buyer,buyer_license,line,sku,batch,tag.
    Order { file: PathBuf },
}

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
        Command::Pick {
            order,
            json,
            short,
            undo,
            reason,
            sources,
            sync,
            who,
        } => {
            let mut store = app::open_store(&settings)?;
            // Taking a pick back needs a supervisor (on a station with people).
            let needed = if undo.is_some() {
                tagtally::domain::people::Role::Supervisor
            } else {
                tagtally::domain::people::Role::Picker
            };
            app::act_as(
                &mut store,
                &settings,
                who.person.as_deref(),
                who.pin.as_deref(),
                needed,
            )?;
            let background = if sync {
                Some(tagtally::sync::cli::start_background(&settings)?)
            } else {
                None
            };
            let mut session = PickSession::open(
                &mut store,
                &order,
                settings.tags.parser(),
                settings.rules.clone(),
            )?;
            let reason = || {
                reason
                    .clone()
                    .context("--reason is required with --short and --undo")
            };
            if let Some(line) = short {
                let p = session.short(&line, &reason()?)?;
                app::print_progress(&p, &mut out)?;
            } else if let Some(tag) = undo {
                let p = session.undo(&tag, &reason()?)?;
                app::print_progress(&p, &mut out)?;
            } else {
                with_sources(&sources, &settings, |events| {
                    session.run(events, &mut out, &mut io::stderr(), json)
                })?;
            }
            drop(session);
            if let Some(b) = background {
                b.stop();
            }
        }
        Command::Load {
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
        } => {
            use tagtally::app::ship::{LoadSession, print_checks};
            use tagtally::domain::people::Role;
            let mut store = app::open_store(&settings)?;
            let needed = if remove.is_some() {
                Role::Supervisor
            } else {
                Role::Loader
            };
            app::act_as(
                &mut store,
                &settings,
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
                .then(|| tagtally::sync::cli::start_background(&settings))
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
                print_checks(&session.checks(), &mut out)?;
            } else if confirm {
                let (driver, vehicle) = (driver.expect("checked"), vehicle.expect("checked"));
                let events = session.confirm(
                    &driver,
                    &vehicle,
                    app::docs::manifest_attachment(&settings.ship),
                )?;
                // The confirmation on its own line, then each order's check.
                if let Some(tagtally::domain::EventKind::LoadConfirm(c)) =
                    events.first().map(|e| &e.kind)
                {
                    writeln!(
                        out,
                        "load {} confirmed: {}, driver {}, vehicle {}",
                        c.load,
                        app::count(events.len(), "order", "orders"),
                        driver.name,
                        vehicle.plate
                    )?;
                }
                print_checks(&session.checks(), &mut out)?;
            } else if check {
                print_checks(&session.checks(), &mut out)?;
            } else {
                with_sources(&sources, &settings, |events| {
                    session.run(events, &mut out, &mut io::stderr(), json)
                })?;
                // The summary follows the answers on the same stream, so the two
                // never run together; `--json` output stays one object a line.
                if !json {
                    print_checks(&session.checks(), &mut out)?;
                }
            }
            drop(session);
            if let Some(b) = background {
                b.stop();
            }
        }
        Command::Deliver {
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
        } => {
            use tagtally::app::ship::{DeliverySession, print_delivery};
            use tagtally::domain::{Decision, RejectReason, people::Role};
            let mut store = app::open_store(&settings)?;
            app::act_as(
                &mut store,
                &settings,
                who.person.as_deref(),
                who.pin.as_deref(),
                Role::Driver,
            )?;
            let background = sync
                .then(|| tagtally::sync::cli::start_background(&settings))
                .transpose()?;
            let mut session = DeliverySession::open(
                &mut store,
                &order,
                settings.tags.parser(),
                settings.rules.clone(),
            )?;
            if let Some(tag) = accept {
                let s = session.decide(&tag, Decision::Accepted)?;
                print_delivery(&s, &mut out)?;
            } else if let Some(tag) = reject {
                let reason = reason.context("--reason is required with --reject")?;
                let reason = RejectReason::parse(&reason).with_context(|| {
                    format!("unknown reason {reason:?}: use damaged, wrong_item, not_ordered, failed_inspection or other (with --note)")
                })?;
                let s = session.decide(&tag, Decision::Rejected { reason, note })?;
                print_delivery(&s, &mut out)?;
            } else if finish {
                let path = signature.expect("clap requires it");
                let png = std::fs::read(&path)
                    .with_context(|| format!("cannot read the signature {}", path.display()))?;
                let ink = tagtally::signature::png_has_ink(&png);
                let s = session.finish(&receiver.unwrap_or_default(), png, ink)?;
                print_delivery(&s, &mut out)?;
            } else if check {
                print_delivery(&session.state(), &mut out)?;
            } else {
                with_sources(&sources, &settings, |events| {
                    session.run(events, &mut out, &mut io::stderr(), json)
                })?;
                if !json {
                    print_delivery(&session.state(), &mut out)?;
                }
            }
            drop(session);
            if let Some(b) = background {
                b.stop();
            }
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
                    let o = app::docs::outcome(&store, &order).map_err(app::AppError::from)?;
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
                    let options = hub_cli::options(
                        settings.rules.clone(),
                        settings.ship.clone(),
                        fault.as_deref(),
                        cert.as_deref().zip(key.as_deref()),
                    )?;
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
            let p = app::status(&store, &order)?;
            if json {
                serde_json::to_writer(&mut out, &p)?;
                writeln!(out)?;
            } else {
                app::print_progress(&p, &mut out)?;
            }
        }
        Command::Orders { json } => {
            let store = app::open_store(&settings)?;
            let orders = store.open_orders()?;
            if json {
                let rows: Vec<_> = orders
                    .iter()
                    .map(|o| {
                        serde_json::json!({"number": o.number, "short_id": o.short_id,
                            "buyer": o.buyer, "status": o.status, "ship_date": o.ship_date,
                            "total": o.total})
                    })
                    .collect();
                serde_json::to_writer(&mut out, &rows)?;
                writeln!(out)?;
            } else {
                for o in orders {
                    writeln!(
                        out,
                        "{:<12} {:<10} {:<28} {:<10} ship {:<10} {} packages",
                        o.number,
                        o.short_id.as_deref().unwrap_or("-"),
                        o.buyer,
                        o.status,
                        o.ship_date.as_deref().unwrap_or("-"),
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
        let mut session = PickSession::open(
            &mut store,
            "SO-1001",
            settings.tags.parser(),
            settings.rules.clone(),
        )?;
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

/// Start the named scanner sources; none named means those of the settings, and
/// none there means standard input.
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
fn with_sources<E>(
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

fn start_sources(specs: &[String], settings: &Settings) -> Result<Sources> {
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

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .init();
}
