//! `webhook-guard`: check a configuration before Envoy loads it, list the presets, sign and
//! send a delivery, run a demo receiver, turn Genesys Cloud's IP ranges into `source_ips`.
//!
//! Exit codes: 0 done (a valid configuration, an answer received); 1 what was checked or
//! sent failed (an invalid configuration, a refused input); 2 a usage error.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use webhook_guard::scheme::presets::PRESET_NAMES;
use webhook_guard::sign::SigningKey;
use webhook_guard_tools::{check, ipranges, presets, receiver, send};

#[derive(Parser)]
#[command(
    name = "webhook-guard",
    version,
    about = "The command line of webhook-guard, the Envoy filter that verifies webhooks."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Check(CheckArgs),
    /// Lists each preset: its signature header, signed content, timestamp window, default
    /// idempotency key and the kind of secret it wants.
    Presets,
    /// Prints the JSON Schema (draft 2020-12) of the filter configuration, as
    /// schema/config.schema.json holds it: for editors (docs/configuration.md, "Editing a configuration").
    Schema,
    Send(Box<SendArgs>),
    Ipranges(IprangesArgs),
    DemoReceiver(ReceiverArgs),
}

/// Checks filter configurations with the filter's own parser, as Envoy would load them.
///
/// FILE is a filter configuration (JSON or YAML), an Envoy bootstrap (each Wasm filter named
/// webhook_guard: its `configuration` and the variables its VM is given), or Kubernetes
/// manifests (each EnvoyFilter, e.g. what `kubectl kustomize envoy/istio/overlays/sidecar`
/// prints; `-` reads standard input). Prints one line per configuration: `ok`, or the
/// `field: reason` the filter would log. Exit 0 when every one is valid, else 1.
///
/// Without --env, secrets read from `env` need not be set: each variable the VM would be
/// given stands for a key of the kind its endpoint wants (a variable the VM is not given,
/// not in the filter's host_env_keys or key_values, is still an error, as in Envoy). With
/// --env, each variable must be set in this environment and be a valid key of its kind,
/// 16 bytes or more for a shared secret; values are never printed.
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct CheckArgs {
    /// Files to check (`-` for standard input).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Also check the secrets themselves, read from this process's environment.
    #[arg(long)]
    env: bool,
}

/// Signs a webhook delivery as the preset's sender (or any endpoint of a configuration)
/// would, and POSTs it over HTTP or HTTPS, or prints it as a curl command.
#[derive(Args)]
struct SendArgs {
    /// Where to send it: http(s)://HOST[:PORT]/PATH.
    #[arg(long)]
    url: String,
    /// The sender's scheme; each has a sample body (Genesys Open Messaging by default).
    /// `webhook-guard presets` says what each one signs.
    #[arg(long, value_parser = signable_presets(), conflicts_with = "config")]
    preset: Option<String>,
    /// A configuration (as `check` reads it): sign for its endpoint --endpoint, with the
    /// scheme the filter will verify (any preset's overrides, `custom` included), and its first
    /// secret (inline `value`, or the variable its `env` names) unless a key is given.
    #[arg(long, value_name = "FILE", requires = "endpoint")]
    config: Option<PathBuf>,
    /// The endpoint of --config to sign for (its `name`).
    #[arg(long, value_name = "NAME", requires = "config")]
    endpoint: Option<String>,
    /// The environment variable holding the secret (preferred: it stays out of your shell
    /// history).
    #[arg(long, value_name = "VAR", group = "key")]
    secret_env: Option<String>,
    /// The secret itself.
    #[arg(long, value_name = "TEXT", group = "key")]
    secret: Option<String>,
    /// The environment variable holding the private key, for discord (Ed25519 seed, hex),
    /// sendgrid (P-256, PKCS#8 PEM or base64 DER, or the scalar as hex) and
    /// standard-webhooks (Ed25519: signs v1a).
    #[arg(long, value_name = "VAR", group = "key")]
    private_key_env: Option<String>,
    /// The private key itself.
    #[arg(long, value_name = "TEXT", group = "key")]
    private_key: Option<String>,
    /// Print the public key to configure the endpoint with (`public_key`), and exit.
    #[arg(long)]
    print_public_key: bool,
    /// The URL the sender believes it calls, for the presets that sign it (square, hubspot,
    /// twilio): the endpoint's public_url. Default: the configuration's, else the scheme and
    /// host of --url.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// A file with the body to sign instead of the sample.
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,
    /// The delivery id (in the sample body, and in the sender's delivery id header).
    #[arg(long)]
    id: Option<String>,
    /// Change one byte after signing.
    #[arg(long)]
    tamper: bool,
    /// For HTTPS: trust only the CA certificates (PEM) in this file, instead of the public
    /// roots.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Print the signed request as a curl command instead of sending it.
    #[arg(long)]
    print_curl: bool,
}

/// Prints a service's CIDRs from Genesys Cloud's GET /api/v2/ipranges answer, as an
/// endpoint's "source_ips" list. The ranges are AWS pools that change: refresh them on a
/// schedule.
///
///   curl -s -H "Authorization: Bearer $TOKEN" https://api.mypurecloud.com/api/v2/ipranges \
///     | webhook-guard ipranges --service open-messaging --region us-east-1
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct IprangesArgs {
    /// The service: open-messaging, data-actions, bot-connector, audiohook, ...
    #[arg(long)]
    service: String,
    /// Only these regions (repeat the flag for several).
    #[arg(long)]
    region: Vec<String>,
    /// The saved answer (default: standard input).
    #[arg(long)]
    file: Option<PathBuf>,
}

/// The demo upstream of `make run`: prints what reaches it (payload included: a demo) and
/// answers 200. Stops on SIGTERM or Ctrl-C.
#[derive(Args)]
struct ReceiverArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Answer 500 to the first N requests, to watch a sender's retry go through.
    #[arg(long, default_value_t = 0)]
    fail: u64,
}

/// Every preset but `custom`, which needs an endpoint's fields (--config, --endpoint).
fn signable_presets() -> clap::builder::PossibleValuesParser {
    PRESET_NAMES
        .iter()
        .copied()
        .filter(|p| *p != "custom")
        .collect::<Vec<_>>()
        .into()
}

fn fail(code: i32, message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(code)
}

fn main() {
    match Cli::parse().command {
        Command::Check(args) => run_check(&args),
        Command::Presets => print!("{}", presets::render(&presets::all())),
        Command::Schema => print!("{}", webhook_guard_tools::schema()),
        Command::Send(args) => run_send(&args),
        Command::Ipranges(args) => run_ipranges(&args),
        Command::DemoReceiver(args) => {
            if let Err(e) = receiver::run(args.listen, args.fail) {
                fail(2, &e);
            }
        }
    }
}

fn run_check(args: &CheckArgs) {
    let secrets = if args.env {
        check::Secrets::Environment
    } else {
        check::Secrets::Placeholders
    };
    let mut all_ok = true;
    for path in &args.files {
        let (lines, ok) = if path.as_os_str() == "-" {
            check_stdin(secrets)
        } else {
            check::check_file(path, secrets)
        };
        for line in lines {
            println!("{line}");
        }
        all_ok &= ok;
    }
    std::process::exit(if all_ok { 0 } else { 1 });
}

fn check_stdin(secrets: check::Secrets) -> (Vec<String>, bool) {
    let mut text = String::new();
    let limit = check::MAX_FILE_BYTES + 1;
    if let Err(e) = std::io::stdin().take(limit).read_to_string(&mut text) {
        return (vec![format!("-: cannot read standard input: {e}")], false);
    }
    if text.len() as u64 >= limit {
        return (vec!["-: too large".into()], false);
    }
    check::check_text("-", &text, secrets)
}

fn run_send(args: &SendArgs) {
    // The scheme, the sample's preset, and the key's text unless given.
    let (mut scheme, preset_name, from_config) = match (&args.config, &args.endpoint) {
        (Some(file), Some(name)) => {
            let ep = send::endpoint_from(file, name).unwrap_or_else(|e| fail(1, &e));
            (ep.scheme, ep.preset, ep.secret)
        }
        _ => {
            let name = args
                .preset
                .clone()
                .unwrap_or_else(|| "genesys-open-messaging".into());
            let scheme = send::preset_scheme(&name).unwrap_or_else(|e| fail(2, &e));
            (scheme, name, None)
        }
    };
    let read = |var: &String| {
        std::env::var(var)
            .unwrap_or_else(|_| fail(2, &format!("environment variable {var} is not set")))
    };
    let (text, private) = match (
        &args.secret_env,
        &args.secret,
        &args.private_key_env,
        &args.private_key,
    ) {
        (Some(var), ..) => (read(var), false),
        (None, Some(text), ..) => (text.clone(), false),
        (None, None, Some(var), _) => (read(var), true),
        (None, None, None, Some(text)) => (text.clone(), true),
        (None, None, None, None) => match from_config {
            Some(send::KeyFrom::Value(v)) => (v, false),
            Some(send::KeyFrom::Env(var)) => (read(&var), false),
            Some(send::KeyFrom::PublicKey) => fail(
                2,
                "this endpoint verifies with a public key: give the sender's private key (--private-key-env or --private-key)",
            ),
            None => fail(
                2,
                "give --secret-env, --secret, --private-key-env or --private-key",
            ),
        },
    };
    if scheme.algorithm.is_asymmetric() && !private {
        fail(
            2,
            &format!(
                "{preset_name} signs with a private key: give --private-key-env or --private-key"
            ),
        );
    }
    let key = SigningKey::from_text(&scheme, &text, private).unwrap_or_else(|why| fail(2, &why));
    if args.print_public_key {
        match key.public_key_text(&scheme) {
            Some(public) => println!("{public}"),
            None => fail(2, "a shared secret has no public key"),
        }
        return;
    }
    if let Some(url) = &args.public_url {
        scheme.public_url = url.clone();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let id = args.id.clone().unwrap_or_else(|| format!("demo-{now}"));
    let body = args.body.as_ref().map(|path| {
        std::fs::read(path)
            .unwrap_or_else(|e| fail(2, &format!("cannot read {}: {e}", path.display())))
    });
    let delivery = send::Delivery {
        scheme: &scheme,
        preset: &preset_name,
        key: &key,
        url: &args.url,
        body,
        id: &id,
        now,
        tamper: args.tamper,
    };
    let request = send::sign(&delivery).unwrap_or_else(|e| fail(2, &e));
    if args.print_curl {
        println!("{}", send::curl(&request, args.ca_file.as_deref()));
        return;
    }
    let what = if args.tamper { "tampered" } else { "signed" };
    println!(
        "sending a {what} {preset_name} delivery ({} bytes) to {}",
        request.body.len(),
        args.url
    );
    match send::post(&request, args.ca_file.as_deref()) {
        Ok((status, answer)) => println!("answer: {status} {answer}"),
        Err(e) => fail(1, &e),
    }
}

fn run_ipranges(args: &IprangesArgs) {
    let answer = match &args.file {
        Some(path) => std::fs::read_to_string(path)
            .unwrap_or_else(|e| fail(2, &format!("cannot read {}: {e}", path.display()))),
        None => {
            let mut s = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut s) {
                fail(2, &format!("cannot read standard input: {e}"));
            }
            s
        }
    };
    match ipranges::select(&answer, &args.service, &args.region) {
        Ok(cidrs) => println!("{}", serde_json::Value::from(cidrs)),
        Err(e) => fail(1, &e),
    }
}
