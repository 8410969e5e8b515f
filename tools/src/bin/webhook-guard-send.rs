//! Signs a sample (or given) webhook delivery the way a sender of the preset would, and
//! POSTs it. `--tamper` changes one byte after signing, to see the filter refuse it.
//! Every preset: a shared secret for the HMAC and token ones, a private key for the
//! asymmetric ones (discord, sendgrid, standard-webhooks' v1a).

use clap::Parser;
use webhook_guard::scheme::presets::{preset, PRESET_NAMES};
use webhook_guard::sign::{sample, sign_message, Message, SigningKey};
use webhook_guard_tools::post;

#[derive(Parser)]
#[command(
    name = "webhook-guard-send",
    about = "Signs a webhook delivery as the preset's sender would, and POSTs it.",
    group(clap::ArgGroup::new("the_key").required(true).args(["secret_env", "secret", "private_key_env", "private_key"]))
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
    /// The environment variable holding the private key, for discord (Ed25519 seed, hex),
    /// sendgrid (P-256, PKCS#8 PEM or base64 DER, or the scalar as hex) and
    /// standard-webhooks (Ed25519: signs v1a).
    #[arg(long, value_name = "VAR")]
    private_key_env: Option<String>,
    /// The private key itself.
    #[arg(long, value_name = "TEXT")]
    private_key: Option<String>,
    /// Print the public key to configure the endpoint with (`public_key`), and exit.
    #[arg(long)]
    print_public_key: bool,
    /// The URL the sender believes it calls, for the presets that sign it (square, hubspot,
    /// twilio): the endpoint's public_url. Default: the scheme and host of --url.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
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
    let mut scheme = preset(name).unwrap_or_else(|| fail(&format!("unknown preset {name:?}")));
    let read = |var: &String| {
        std::env::var(var)
            .unwrap_or_else(|_| fail(&format!("environment variable {var} is not set")))
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
        (None, None, None, None) => {
            fail("give --secret-env, --secret, --private-key-env or --private-key")
        }
    };
    if scheme.algorithm.is_asymmetric() && !private {
        fail(&format!(
            "{name} signs with a private key: give --private-key-env or --private-key"
        ));
    }
    let key = SigningKey::from_text(&scheme, &text, private).unwrap_or_else(|why| fail(&why));
    if args.print_public_key {
        match key.public_key_text(&scheme) {
            Some(public) => println!("{public}"),
            None => fail("a shared secret has no public key"),
        }
        return;
    }

    // http://HOST:PORT/PATH?QUERY -> the origin and the path the filter will see.
    let (origin, path) = match args.url.find("://").map(|i| i + 3) {
        Some(start) => match args.url[start..].find('/') {
            Some(slash) => args.url.split_at(start + slash),
            None => (args.url.as_str(), "/"),
        },
        None => fail("--url must be http://HOST[:PORT]/PATH"),
    };
    if webhook_guard::scheme::presets::needs_public_url(&scheme) {
        scheme.public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| origin.to_string());
    }

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let id = args.id.clone().unwrap_or_else(|| format!("demo-{now}"));
    let (sample_body, timestamp) = sample(name, &id, now);
    let body = match &args.body {
        Some(path) => std::fs::read(path)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display()))),
        None => sample_body.into_bytes(),
    };
    let message = Message {
        body: &body,
        timestamp: &timestamp,
        id: &id,
        method: "POST",
        path,
    };
    let signed = sign_message(&scheme, &key, &message).unwrap_or_else(|why| fail(&why));
    let mut headers = signed.headers;
    // The delivery id headers these senders send (unsigned: the filter only logs them).
    match name {
        "github" => headers.push(("x-github-delivery".into(), id.clone())),
        "shopify" => headers.push(("x-shopify-event-id".into(), id.clone())),
        _ => {}
    }
    let form = matches!(name, "slack" | "twilio");
    let content_type = if form {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };

    let mut sent = signed.body;
    if args.tamper {
        // Mailgun signs its token, not the event: change the token.
        let target = if name == "mailgun" {
            String::from_utf8_lossy(&sent)
                .find(&id)
                .map(|i| i + id.len() + 2)
        } else {
            sent.iter().rposition(|b| b.is_ascii_alphanumeric())
        };
        if let Some(b) = target.and_then(|i| sent.get_mut(i)) {
            *b ^= 0x01;
        }
    }
    let what = if args.tamper { "tampered" } else { "signed" };
    println!(
        "sending a {what} {name} delivery ({} bytes) to {}",
        sent.len(),
        args.url
    );
    match post(&args.url, content_type, &headers, &sent) {
        Ok((status, answer)) => println!("answer: {status} {answer}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
