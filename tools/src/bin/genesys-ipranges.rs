//! Prints the `source_ips` list for one Genesys Cloud service from the answer of
//! `GET /api/v2/ipranges` (saved to a file, or piped in). The ranges are AWS pools that
//! change: refresh them on a schedule rather than hard-coding them.
//!
//!   curl -s -H "Authorization: Bearer $TOKEN" https://api.mypurecloud.com/api/v2/ipranges \
//!     | genesys-ipranges --service open-messaging --region us-east-1

use std::io::Read;

use clap::Parser;
use webhook_guard_tools::ipranges;

#[derive(Parser)]
#[command(
    name = "genesys-ipranges",
    about = "Prints a service's CIDRs from Genesys Cloud's GET /api/v2/ipranges answer, as an endpoint's \"source_ips\" list."
)]
struct Args {
    /// The service: open-messaging, data-actions, bot-connector, audiohook, ...
    #[arg(long)]
    service: String,
    /// Only these regions (repeat the flag for several).
    #[arg(long)]
    region: Vec<String>,
    /// The saved answer (default: standard input).
    #[arg(long)]
    file: Option<std::path::PathBuf>,
}

fn main() {
    let args = Args::parse();
    let answer = match &args.file {
        Some(path) => std::fs::read_to_string(path).unwrap_or_else(|e| {
            eprintln!("error: cannot read {}: {e}", path.display());
            std::process::exit(2)
        }),
        None => {
            let mut s = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut s) {
                eprintln!("error: cannot read standard input: {e}");
                std::process::exit(2);
            }
            s
        }
    };
    match ipranges::select(&answer, &args.service, &args.region) {
        Ok(cidrs) => println!("{}", serde_json::Value::from(cidrs)),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
