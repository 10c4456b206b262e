//! A webhook receiver for the tests: a real HTTP/1.1 server on a loopback port, on a thread of
//! its own, that keeps every POST it gets (headers, body, when) and answers as the test tells
//! it: a status, after a delay, or with the connection dropped. Its signature check is the
//! Standard Webhooks algorithm written here from the specification (HMAC-SHA256 built on
//! SHA-256 by hand), not cab's function.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One POST as it arrived.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// The status it was answered with (0: not answered yet, or the connection was dropped).
    pub answered: u16,
    pub received: SystemTime,
}

impl Delivery {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    pub fn id(&self) -> &str {
        self.header("webhook-id")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body's `type`.
    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }

    /// Whether it was acknowledged (a 2xx answer).
    pub fn acknowledged(&self) -> bool {
        (200..300).contains(&self.answered)
    }
}

/// How the receiver answers the next POSTs.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// This status after a pause.
    Slow(u16, Duration),
    /// Read the request, then close the connection without answering.
    Drop,
}

struct Shared {
    deliveries: Mutex<Vec<Delivery>>,
    /// Answers for the next POSTs, in turn; then `usual`.
    script: Mutex<Vec<Answer>>,
    usual: Mutex<Answer>,
    stop: AtomicBool,
}

pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The secret of every test webhook, and its decoded key.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

impl Receiver {
    /// A receiver answering 204 to everything.
    pub fn start() -> Receiver {
        Receiver::on_port(0)
    }

    /// A receiver on this port (0: any free one), e.g. again after [`Receiver::stop`].
    pub fn on_port(port: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            deliveries: Mutex::new(Vec::new()),
            script: Mutex::new(Vec::new()),
            usual: Mutex::new(Answer::Status(204)),
            stop: AtomicBool::new(false),
        });
        let inner = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            while !inner.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let inner = Arc::clone(&inner);
                        std::thread::spawn(move || serve(stream, &inner));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Receiver {
            port,
            shared,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Answer every later POST this way.
    pub fn answer(&self, answer: Answer) {
        *self.shared.usual.lock().unwrap() = answer;
    }

    /// Answer the next POSTs these ways, in turn, then as usual.
    pub fn script(&self, answers: &[Answer]) {
        *self.shared.script.lock().unwrap() = answers.iter().rev().copied().collect();
    }

    /// Every POST so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.lock().unwrap().clone()
    }

    /// The acknowledged POSTs so far.
    pub fn acknowledged(&self) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(Delivery::acknowledged)
            .collect()
    }

    /// Wait until `count` POSTs were acknowledged; they are returned.
    pub fn wait_acknowledged(&self, count: usize, patience: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + patience;
        loop {
            let got = self.acknowledged();
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{count} deliveries were expected, {} arrived: {:?}",
                got.len(),
                got.iter().map(|d| d.id().to_string()).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Close the port: connections are refused until a new receiver takes it.
    pub fn stop(mut self) -> u16 {
        self.halt();
        self.port
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.halt();
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let answer = shared
            .script
            .lock()
            .unwrap()
            .pop()
            .unwrap_or(*shared.usual.lock().unwrap());
        // Kept on arrival, answered (0) only once the answer goes out.
        let index = {
            let mut all = shared.deliveries.lock().unwrap();
            all.push(Delivery {
                path,
                headers,
                body,
                answered: 0,
                received: SystemTime::now(),
            });
            all.len() - 1
        };
        let status = match answer {
            Answer::Status(s) => s,
            Answer::Slow(s, pause) => {
                std::thread::sleep(pause);
                s
            }
            Answer::Drop => 0,
        };
        shared.deliveries.lock().unwrap()[index].answered = status;
        if status == 0 {
            return;
        }
        let reply = format!(
            "HTTP/1.1 {status} Test\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"
        );
        if stream.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

// ----- the Standard Webhooks signature, from the specification -----

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block_key.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.into()
}

/// The signature a receiver expects: `v1,` + base64(HMAC-SHA256(key, id.timestamp.body)), the
/// key being the secret without `whsec_`, base64-decoded.
pub fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.trim_start_matches("whsec_"))
        .expect("a base64 secret");
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("v1,{}", b64.encode(hmac_sha256(&key, &signed)))
}

/// Check a delivery as a receiver would: the signature (one of the space-separated ones)
/// matches, and the timestamp is the real clock's, within five minutes.
pub fn assert_signed(delivery: &Delivery, secret: &str) {
    let id = delivery.id();
    let timestamp = delivery.header("webhook-timestamp");
    let expected = expected_signature(secret, id, timestamp, &delivery.body);
    let given = delivery.header("webhook-signature");
    assert!(
        given.split(' ').any(|s| s == expected),
        "webhook {id}: signature {given} is not {expected}"
    );
    let sent: u64 = timestamp
        .parse()
        .expect("webhook-timestamp is Unix seconds");
    let real = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        sent.abs_diff(real) < 300,
        "webhook-timestamp {sent} is not the real clock's {real}"
    );
}

/// The `webhook-id` each line of a store's text is delivered under, in order.
pub fn webhook_ids(store_text: &str) -> Vec<String> {
    store_text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a store line is JSON");
            format!(
                "evt_{}_{}",
                v["seq"],
                &v["hash"].as_str().expect("a hash")[..16]
            )
        })
        .collect()
}

impl Receiver {
    /// The webhook-ids of the acknowledged POSTs so far, in arrival order.
    pub fn acknowledged_ids(&self) -> Vec<String> {
        self.acknowledged()
            .iter()
            .map(|d| d.id().to_string())
            .collect()
    }
}

/// A `[[webhooks]]` block for the config file, with the test secret; `extra` adds lines
/// (`format = "slack"`, `events = [...]`).
pub fn webhook_block(name: &str, url: &str, extra: &str) -> String {
    format!("\n[[webhooks]]\nname = \"{name}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n{extra}\n")
}
