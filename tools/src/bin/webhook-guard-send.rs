//! Signs a sample (or given) webhook delivery the way a sender of the preset would, and
//! POSTs it. `--tamper` changes one byte after signing, to see the filter refuse it.

use webhook_guard::presets::preset;
use webhook_guard::sign::sign;
use webhook_guard_tools::{fail, post, Args};

const USAGE: &str = "usage: webhook-guard-send --url http://HOST:PORT/PATH --preset NAME
         (--secret-env VAR | --secret TEXT) [--body FILE] [--id ID] [--tamper]

Presets: genesys-open-messaging (default sample: a Genesys Open Messaging message),
genesys-signature-header, github, stripe, slack, standard-webhooks, shopify.
The secret is read from the environment variable VAR (preferred: it stays out of
your shell history) or given as TEXT.";

fn main() {
    let args = Args::from_env();
    if args.flag("help") {
        println!("{USAGE}");
        return;
    }
    let url = args
        .value("url")
        .unwrap_or_else(|| fail("--url is required", USAGE));
    let name = args
        .value("preset")
        .unwrap_or_else(|| "genesys-open-messaging".into());
    let scheme = preset(&name)
        .filter(|_| name != "custom")
        .unwrap_or_else(|| fail(&format!("unknown preset {name:?}"), USAGE));
    let secret = match (args.value("secret-env"), args.value("secret")) {
        (Some(var), None) => std::env::var(&var)
            .unwrap_or_else(|_| fail(&format!("environment variable {var} is not set"), USAGE)),
        (None, Some(text)) => text,
        _ => fail("give one of --secret-env or --secret", USAGE),
    };
    let key = scheme
        .secret_encoding
        .decode(&secret)
        .unwrap_or_else(|why| fail(&format!("the secret {why}"), USAGE));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = args.value("id").unwrap_or_else(|| format!("demo-{now}"));
    let body = match args.value("body") {
        Some(path) => std::fs::read(&path)
            .unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}"), USAGE)),
        None => sample_body(&name, &id, now).into_bytes(),
    };
    let mut headers = sign(&scheme, &key, &body, &now.to_string(), &id);
    if matches!(name.as_str(), "github" | "shopify") {
        let header = if name == "github" {
            "x-github-delivery"
        } else {
            "x-shopify-event-id"
        };
        headers.push((header.into(), id.clone()));
    }

    let mut sent = body;
    if args.flag("tamper") {
        if let Some(b) = sent.iter_mut().rev().find(|b| b.is_ascii_alphanumeric()) {
            *b ^= 0x01;
        }
    }
    let what = if args.flag("tamper") {
        "tampered"
    } else {
        "signed"
    };
    println!(
        "sending a {what} {name} delivery ({} bytes) to {url}",
        sent.len()
    );
    match post(&url, &headers, &sent) {
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
