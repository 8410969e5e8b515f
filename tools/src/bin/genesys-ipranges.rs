//! Prints the `source_ips` list for one Genesys Cloud service from the answer of
//! `GET /api/v2/ipranges` (saved to a file, or piped in). The ranges are AWS pools that
//! change: refresh them on a schedule rather than hard-coding them.
//!
//!   curl -s -H "Authorization: Bearer $TOKEN" https://api.mypurecloud.com/api/v2/ipranges \
//!     | genesys-ipranges --service open-messaging --region us-east-1

use std::io::Read;

use webhook_guard_tools::{fail, ipranges, Args};

const USAGE: &str = "usage: genesys-ipranges --service NAME [--region R ...] [--file ANSWER.json]

Reads the JSON answer of Genesys Cloud's GET /api/v2/ipranges (from --file, or standard
input) and prints the CIDRs of the service (open-messaging, data-actions, bot-connector,
audiohook, ...) as a JSON list for an endpoint's \"source_ips\".";

fn main() {
    let args = Args::from_env();
    if args.flag("help") {
        println!("{USAGE}");
        return;
    }
    let service = args
        .value("service")
        .unwrap_or_else(|| fail("--service is required", USAGE));
    let regions = args.values("region");
    let answer = match args.value("file") {
        Some(path) => std::fs::read_to_string(&path)
            .unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}"), USAGE)),
        None => {
            let mut s = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut s) {
                fail(&format!("cannot read standard input: {e}"), USAGE);
            }
            s
        }
    };
    match ipranges::select(&answer, &service, &regions) {
        Ok(cidrs) => println!("{}", serde_json::Value::from(cidrs)),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
