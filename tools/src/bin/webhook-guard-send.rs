//! Signs a sample (or given) webhook delivery the way a sender of the preset would, and
//! POSTs it. `--tamper` changes one byte after signing, to see the filter refuse it.

use clap::Parser;
use webhook_guard::presets::{preset, PRESET_NAMES};
use webhook_guard::sign::sign;
use webhook_guard_tools::post;

#[derive(Parser)]
#[command(
    name = "webhook-guard-send",
    about = "Signs a webhook delivery as the preset's sender would, and POSTs it.",
    group(clap::ArgGroup::new("the_secret").required(true).args(["secret_env", "secret"]))
)]
struct Args {
    /// Where to send it: http://HOST:PORT/PATH.
    #[arg(long)]
    url: String,
    /// The sender's scheme; each has a sample body (Genesys Open Messaging by default).
    #[arg(long, default_value = "genesys-open-messaging", value_parser = presets())]
    preset: String,
    /// The environment variable holding the secret (preferred: it stays out of your shell
    /// history).
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
    /// The secret itself.
    #[arg(long, value_name = "TEXT")]
    secret: Option<String>,
    /// A file with the body to sign instead of the sample.
    #[arg(long, value_name = "FILE")]
    body: Option<std::path::PathBuf>,
    /// The delivery id (in the sample body, or a header for the senders that send one).
    #[arg(long)]
    id: Option<String>,
    /// Change one byte after signing.
    #[arg(long)]
    tamper: bool,
}

/// Every preset but `custom`, which needs an endpoint's fields.
fn presets() -> clap::builder::PossibleValuesParser {
    PRESET_NAMES
        .iter()
        .copied()
        .filter(|p| *p != "custom")
        .collect::<Vec<_>>()
        .into()
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

fn main() {
    let args = Args::parse();
    let name = args.preset.as_str();
    let scheme = preset(name).unwrap_or_else(|| fail(&format!("unknown preset {name:?}")));
    let secret = match (&args.secret_env, &args.secret) {
        (Some(var), _) => std::env::var(var)
            .unwrap_or_else(|_| fail(&format!("environment variable {var} is not set"))),
        (None, Some(text)) => text.clone(),
        (None, None) => fail("give --secret-env or --secret"),
    };
    let key = scheme
        .secret_encoding
        .decode(&secret)
        .unwrap_or_else(|why| fail(&format!("the secret {why}")));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = args.id.clone().unwrap_or_else(|| format!("demo-{now}"));
    let body = match &args.body {
        Some(path) => std::fs::read(path)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display()))),
        None => sample_body(name, &id, now).into_bytes(),
    };
    let mut headers = sign(&scheme, &key, &body, &now.to_string(), &id);
    // The delivery id headers these senders send (unsigned: the filter only logs them).
    match name {
        "github" => headers.push(("x-github-delivery".into(), id.clone())),
        "shopify" => headers.push(("x-shopify-event-id".into(), id.clone())),
        _ => {}
    }

    let mut sent = body;
    if args.tamper {
        if let Some(b) = sent.iter_mut().rev().find(|b| b.is_ascii_alphanumeric()) {
            *b ^= 0x01;
        }
    }
    let what = if args.tamper { "tampered" } else { "signed" };
    println!(
        "sending a {what} {name} delivery ({} bytes) to {}",
        sent.len(),
        args.url
    );
    match post(&args.url, &headers, &sent) {
        Ok((status, answer)) => println!("answer: {status} {answer}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// A realistic payload per preset, dated now where the scheme dates the body.
fn sample_body(preset: &str, id: &str, now: u64) -> String {
    let time = webhook_guard::rfc3339::unix_seconds_to_rfc3339(now as i64);
    match preset {
        "genesys-open-messaging" => format!(
            r#"{{"id":"{id}","channel":{{"id":"e6b352de-ecd0-49c7-94de-7787418869bc","platform":"Open","type":"Private","to":{{"id":"recipient-123","idType":"Opaque"}},"from":{{"nickname":"Support","id":"e6b352de-ecd0-49c7-94de-7787418869bc","idType":"Opaque"}},"time":"{time}","messageId":"{id}"}},"type":"Text","text":"Hi","originatingEntity":"Human","direction":"Outbound","conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee"}}"#
        ),
        "genesys-signature-header" => format!(
            r#"{{"event":"conversation.end","eventId":"{id}","conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee","timestamp":"{time}","platformVersion":"v2","data":{{}}}}"#
        ),
        "stripe" => format!(r#"{{"id":"{id}","object":"event","type":"charge.succeeded"}}"#),
        "slack" => "token=demo&team_id=T0001&text=hello".to_string(),
        _ => format!(r#"{{"id":"{id}","type":"demo"}}"#),
    }
}
