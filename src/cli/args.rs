//! The command line's arguments (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tagtally",
    version,
    about = "Metrc tag checks for pick, load and delivery"
)]
pub(crate) struct Cli {
    /// Database file (overrides the `store.path` setting).
    #[arg(long, global = true, env = "TAGTALLY_DB")]
    pub(crate) db: Option<PathBuf>,
    /// Site config file (TOML), layered over the built-in defaults.
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Import Metrc packages or an order with its allocation.
    #[command(subcommand)]
    Import(Import),
    /// Pick an order: read scanner lines from standard input and answer each one.
    Pick(PickArgs),
    /// Propose, for each line of ORDER without a full allocation, packages of one
    /// batch whose quantities sum exactly to the line; --accept records it, --tag
    /// allocates chosen packages to --line under the same rules.
    Allocate(AllocateArgs),
    /// The SKU-to-Metrc-item mapping allocation matches order lines by.
    #[command(subcommand)]
    Items(ItemsCommand),
    /// Load picked orders onto a vehicle: read scanner lines from standard input (or
    /// --source) and answer each; or remove a package, show the check, or confirm.
    Load(LoadArgs),
    /// Deliver a loaded order: read hand-over scans from standard input (or --source)
    /// and answer each; or accept / reject a package, show the state, or finish.
    Deliver(DeliverArgs),
    /// The pick list of ORDER: every allocated package in walking order, grouped by
    /// location, each with a checkbox, its tag, a Code 128 of the tag (pdf), item,
    /// quantity, batch, line and whether it is picked; totals per line.
    Picklist {
        order: String,
        #[arg(long, value_enum, default_value = "pdf")]
        format: PicklistFormat,
        /// Write to this file (default: standard output; a PDF is not written to a
        /// terminal).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
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
    /// A supervisor accepts or rejects an event the hub held for a ruling (listed by
    /// `tagtally status ORDER`): accepted, it counts; rejected, it is kept and never
    /// counts.
    Rule(RuleArgs),
    /// Show an order's progress per line, and the events held for a supervisor.
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
    /// Metrc, live: check the keys, pull package facts, say where the pulls stand.
    #[command(subcommand)]
    Metrc(MetrcCommand),
    /// Serve an emulated Metrc (for a demo or a test) from a package file.
    MetrcEmulator(EmulatorArgs),
    /// LeafLink, live: pull the orders received, say where the pulls stand.
    #[command(subcommand)]
    Leaflink(LeafLinkCommand),
    /// Serve an emulated LeafLink (for a demo or a test) from an order file.
    LeaflinkEmulator(LeafLinkEmulatorArgs),
    /// Apex Trading, live: check the token, pull the shipping orders, say where the
    /// pulls stand.
    #[command(subcommand)]
    Apex(ApexCommand),
    /// Serve an emulated Apex (for a demo or a test) from an order file.
    ApexEmulator(ApexEmulatorArgs),
    /// The state's license register and orders on license hold (docs/licenses.md).
    #[command(subcommand)]
    Licenses(super::licenses::LicensesCommand),
    /// Write the COA PDFs of an order's batches into a folder, reading from Metrc
    /// (when [metrc] is set up) any not stored yet. Exits 1 if a batch has none.
    Coa {
        order: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum LeafLinkCommand {
    /// Pull the orders LeafLink received that changed since the last pull and import
    /// them as `import order` does.
    Pull,
    /// When the last pull succeeded, and the last error; the write-backs queued,
    /// done and refused.
    Status,
    /// Write what the floor did back to LeafLink's orders now: lines packed, orders
    /// fulfilled, shipped (with Metrc's manifest number) and complete. Works on any
    /// database that holds the orders, with or without a running hub.
    Push {
        /// Queue again the writes LeafLink refused before (after mending the order
        /// in LeafLink).
        #[arg(long)]
        retry_failed: bool,
    },
}

/// `tagtally leaflink-emulator`.
#[derive(clap::Args)]
pub(crate) struct LeafLinkEmulatorArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:7980")]
    pub(crate) listen: String,
    /// LeafLink order file (one order, a list or a `results` page); default: the
    /// demo orders.
    #[arg(long, value_name = "FILE")]
    pub(crate) data: Option<PathBuf>,
    /// The API key it accepts (as `App KEY` or `Token KEY`).
    #[arg(long, default_value = "demo-leaflink-key")]
    pub(crate) key: String,
}

#[derive(Subcommand)]
pub(crate) enum ApexCommand {
    /// Ask Apex who the token is and what it may do (`GET /v1/welcome`).
    Check,
    /// Pull the shipping orders Apex updated since the last pull and import them as
    /// `import order` does.
    Pull,
    /// When the last pull succeeded, and the last error; the write-backs done,
    /// waiting and refused.
    Status,
    /// Write what the floor did back to Apex's orders now, as their status: packed,
    /// in transit, delivered. Works on any database that holds the orders, with or
    /// without a running hub.
    Push {
        /// Queue again the writes Apex refused before (after mending the order in
        /// Apex or the settings).
        #[arg(long)]
        retry_failed: bool,
    },
}

/// `tagtally apex-emulator`.
#[derive(clap::Args)]
pub(crate) struct ApexEmulatorArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:7981")]
    pub(crate) listen: String,
    /// Apex order file (an `orders` page, one `order`, an object or a list);
    /// default: the demo orders (config/demo/apex-orders.json).
    #[arg(long, value_name = "FILE")]
    pub(crate) data: Option<PathBuf>,
    /// The token it accepts (as `Authorization: Bearer TOKEN`).
    #[arg(long, default_value = "demo-apex-token")]
    pub(crate) token: String,
}

#[derive(Subcommand)]
pub(crate) enum MetrcCommand {
    /// One call that proves the keys and the license; says what is wrong if not.
    Check,
    /// Pull the packages changed since the last pull (with --full, from
    /// `first_pull_days` back) and store them as `import packages` does.
    Pull {
        #[arg(long)]
        full: bool,
    },
    /// Post the transfer template of ORDER's confirmed load (exactly `manifest
    /// --format metrc-template`), once: a load already posted is not posted again.
    Push {
        /// Order number or short id.
        order: String,
    },
    /// When the last pull succeeded, how far behind Metrc the facts are, the last
    /// error, and the templates queued or posted.
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// `tagtally metrc-emulator`.
#[derive(clap::Args)]
pub(crate) struct EmulatorArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:7979")]
    pub(crate) listen: String,
    /// Metrc package file (v1 array or v2 `{"Data": [...]}`); default: the demo packages.
    #[arg(long, value_name = "FILE")]
    pub(crate) data: Option<PathBuf>,
    /// The facility's license.
    #[arg(long, default_value = "C11-0000001-LIC")]
    pub(crate) license: String,
    #[arg(long, default_value = "demo-vendor-key")]
    pub(crate) vendor_key: String,
    #[arg(long, default_value = "demo-user-key")]
    pub(crate) user_key: String,
    /// Refuse lastModified windows wider than this many hours (0: any width).
    #[arg(long, default_value_t = 24)]
    pub(crate) window_cap_hours: i64,
}

#[derive(Subcommand)]
pub(crate) enum HubCommand {
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
pub(crate) enum DeviceCommand {
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
pub(crate) enum UserCommand {
    /// Add a person, or give one a new role and PIN (which also lifts a lock-out).
    Add {
        name: String,
        /// picker, loader, driver, supervisor, or coordinator (the hub's desk only).
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
pub(crate) enum PicklistFormat {
    Pdf,
    Text,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ManifestFormat {
    MetrcTemplate,
    Pdf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    Outcome,
    Json,
    Pdf,
}

/// Driver and vehicle of a load. A name (or plate) the dock has loaded with before
/// needs nothing else.
#[derive(clap::Args, Default)]
pub(crate) struct TransportArgs {
    #[arg(long, value_name = "NAME")]
    pub(crate) driver: Option<String>,
    #[arg(long, value_name = "NUMBER")]
    pub(crate) occupational_license: Option<String>,
    #[arg(long, value_name = "NUMBER")]
    pub(crate) drivers_license: Option<String>,
    #[arg(long)]
    pub(crate) make: Option<String>,
    #[arg(long)]
    pub(crate) model: Option<String>,
    #[arg(long)]
    pub(crate) plate: Option<String>,
}

/// Who acts, on a station with people (checked like the sign-in screen).
#[derive(clap::Args, Default)]
pub(crate) struct WhoArgs {
    #[arg(long, value_name = "NAME")]
    pub(crate) person: Option<String>,
    #[arg(long, env = "TAGTALLY_PIN", hide_env_values = true)]
    pub(crate) pin: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum Import {
    /// Metrc package JSON (v1 array or v2 {"Data": [...]}).
    Packages { file: PathBuf },
    /// A LeafLink or Apex order (JSON) or an order CSV with header order,buyer,buyer_license,line,sku,batch,tag.
    Order { file: PathBuf },
}
/// `tagtally allocate`.
#[derive(clap::Args)]
pub(crate) struct AllocateArgs {
    /// Order number or short id.
    pub(crate) order: String,
    /// Only this line (its id, as `pick --short` names it).
    #[arg(long, value_name = "N")]
    pub(crate) line: Option<String>,
    /// The answer as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    /// Record each exact fit proposed (an allocation, logged with the person).
    #[arg(long, conflicts_with = "tags")]
    pub(crate) accept: bool,
    /// Allocate these packages to --line instead of a proposal.
    #[arg(long = "tag", value_name = "TAG", num_args = 1.., requires = "line")]
    pub(crate) tags: Vec<String>,
    #[command(flatten)]
    pub(crate) who: WhoArgs,
}

/// `tagtally items`.
#[derive(Subcommand)]
pub(crate) enum ItemsCommand {
    /// Map a platform SKU to the Metrc item name its packages carry.
    Map { sku: String, item: String },
    /// Every mapping.
    List,
}

/// `tagtally pick`.
#[derive(clap::Args)]
pub(crate) struct PickArgs {
    /// Order number or short id.
    pub(crate) order: String,
    /// One JSON object per answer instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Record a short pick for this line instead of scanning (needs --reason).
    #[arg(long, value_name = "LINE", conflicts_with = "undo")]
    pub(crate) short: Option<String>,
    /// Take back the pick of this tag instead of scanning (needs --reason).
    #[arg(long, value_name = "TAG")]
    pub(crate) undo: Option<String>,
    /// Why the line is short, or why the pick is undone.
    #[arg(long)]
    pub(crate) reason: Option<String>,
    /// Scanner source(s) to read instead of standard input, e.g.
    /// `serial:/dev/ttyACM0?baud=9600`, `hid:0c2e:0b61`, `replay:FILE` (repeatable).
    #[arg(long = "source", value_name = "SPEC")]
    pub(crate) sources: Vec<String>,
    /// Sync with the joined hub in the background while picking (never blocks a scan).
    #[arg(long)]
    pub(crate) sync: bool,
    #[command(flatten)]
    pub(crate) who: WhoArgs,
}

/// `tagtally load`.
#[derive(clap::Args)]
pub(crate) struct LoadArgs {
    /// Order number(s) or short id(s): several orders make one route.
    #[arg(required = true)]
    pub(crate) orders: Vec<String>,
    /// One JSON object per answer instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    #[arg(long = "source", value_name = "SPEC")]
    pub(crate) sources: Vec<String>,
    /// Print loaded against the manifest (missing, extra) and stop.
    #[arg(long, conflicts_with_all = ["remove", "confirm"])]
    pub(crate) check: bool,
    /// A supervisor takes this package off the shipment (needs --reason).
    #[arg(long, value_name = "TAG", conflicts_with = "confirm")]
    pub(crate) remove: Option<String>,
    #[arg(long)]
    pub(crate) reason: Option<String>,
    /// Confirm the load (loaded must equal the manifest), with driver and vehicle.
    #[arg(long)]
    pub(crate) confirm: bool,
    #[command(flatten)]
    pub(crate) transport: TransportArgs,
    #[command(flatten)]
    pub(crate) who: WhoArgs,
    /// Sync with the joined hub in the background meanwhile.
    #[arg(long)]
    pub(crate) sync: bool,
}

/// `tagtally deliver`.
#[derive(clap::Args)]
pub(crate) struct DeliverArgs {
    pub(crate) order: String,
    #[arg(long)]
    pub(crate) json: bool,
    #[arg(long = "source", value_name = "SPEC")]
    pub(crate) sources: Vec<String>,
    /// Print per package accepted / rejected / not yet scanned and stop.
    #[arg(long, conflicts_with_all = ["accept", "reject", "finish"])]
    pub(crate) check: bool,
    /// The receiver accepts this package (after a rejection, say).
    #[arg(long, value_name = "TAG", conflicts_with_all = ["reject", "finish"])]
    pub(crate) accept: Option<String>,
    /// The receiver rejects this whole package (needs --reason: damaged,
    /// wrong_item, not_ordered, failed_inspection or other with --note).
    #[arg(long, value_name = "TAG", conflicts_with = "finish")]
    pub(crate) reject: Option<String>,
    #[arg(long)]
    pub(crate) reason: Option<String>,
    #[arg(long)]
    pub(crate) note: Option<String>,
    /// Finish the delivery (every package accepted or rejected), signed.
    #[arg(long, requires_all = ["receiver", "signature"])]
    pub(crate) finish: bool,
    /// The receiver's name.
    #[arg(long)]
    pub(crate) receiver: Option<String>,
    /// The receiver's signature as a PNG image.
    #[arg(long, value_name = "PNG")]
    pub(crate) signature: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) who: WhoArgs,
    #[arg(long)]
    pub(crate) sync: bool,
}

/// `tagtally rule`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("word").required(true).args(["accept", "reject"])))]
pub(crate) struct RuleArgs {
    /// Order number or short id.
    pub(crate) order: String,
    /// The held event, as `tagtally status` lists it: DEVICE/SEQ (e.g. vault-1/12).
    pub(crate) event: String,
    /// It counts from now on.
    #[arg(long)]
    pub(crate) accept: bool,
    /// It is kept as a fact and never counts (needs --reason).
    #[arg(long)]
    pub(crate) reject: bool,
    #[arg(long)]
    pub(crate) reason: Option<String>,
    #[command(flatten)]
    pub(crate) who: WhoArgs,
}
