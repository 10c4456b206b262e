//! Connection hygiene of a real `cab serve` (SPEC section 5): idle or half-sent connections
//! cannot lock others out, hold a connection forever, or keep the server from stopping.
//! Raw sockets on loopback, so the clients can misbehave as attackers do.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use crate::support::server::{NOW, PATIENCE, Server, World};

/// Sets both limits of RLIMIT_NOFILE (the server cannot raise them again).
fn limit_open_files(limit: u64) -> std::io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// This test process may open as many files as its hard limit allows.
fn raise_own_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only touch the struct given, which outlives the calls.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

fn connect(server: &Server) -> TcpStream {
    let addr = server.base().trim_start_matches("http://");
    let stream = TcpStream::connect(addr).expect("connect to the server");
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("a read timeout");
    stream
}

/// Read until the server closes the connection; what it sent. Fails if the connection is
/// still open when the read timeout (PATIENCE) runs out.
fn read_until_closed(stream: &mut TcpStream, what: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "{what}: the server kept the connection open for {PATIENCE:?}; it sent {:?}",
                    String::from_utf8_lossy(&got)
                )
            }
            Err(e) => panic!("{what}: reading failed: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn idle_connections_beyond_the_open_file_limit_do_not_lock_out_a_real_request() {
    raise_own_open_file_limit();
    let world = World::new();
    // SAFETY: the closure runs in the child between fork and exec and only calls setrlimit,
    // which is async-signal-safe.
    let server = world.start_with(NOW, |cmd| unsafe {
        cmd.pre_exec(|| limit_open_files(256));
    });
    let api = server.as_user(&world, "dana");
    api.get("/v1/healthz").expect(200, "warm-up");

    // Far more connections than the server has file descriptors, none sending a byte.
    let idle: Vec<TcpStream> = (0..600).map(|_| connect(&server)).collect();

    // A real client still gets its answer while they are all held open.
    let fresh = server.as_user(&world, "dana");
    fresh
        .get("/v1/requests")
        .expect(200, "a request among idle connections");
    let id = fresh.submit("payments-api", 20.0);
    fresh
        .get(&format!("/v1/requests/{id}"))
        .expect(200, "and another");
    let log = server.log();
    assert!(
        log.contains("max_connections=192"),
        "the cap fits under the open-file limit:\n{log}"
    );
    drop(idle);
}

#[test]
fn a_request_header_that_never_completes_is_dropped() {
    let world = World::new();
    let server = world.start();
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /v1/healthz HTTP/1.1\r\nHost: cab\r\nX-Slow: ")
        .expect("half a header");
    let sent = read_until_closed(&mut stream, "a half-sent header");
    assert!(
        !sent.contains("200 OK"),
        "no answer to a request that never arrived whole: {sent:?}"
    );
    // The server itself is fine.
    server
        .api(None)
        .get("/v1/healthz")
        .expect(200, "after the drop");
}

#[test]
fn a_keep_alive_connection_left_idle_is_closed() {
    let world = World::new();
    let server = world.start();
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /v1/healthz HTTP/1.1\r\nHost: cab\r\n\r\n")
        .expect("a whole request");
    // Then nothing more: the connection is kept alive, idle, until the server closes it.
    let sent = read_until_closed(&mut stream, "an idle keep-alive connection");
    assert!(
        sent.starts_with("HTTP/1.1 200 OK"),
        "the request was answered first: {sent:?}"
    );
    assert!(
        !sent.to_ascii_lowercase().contains("connection: close"),
        "the answer itself kept the connection alive: {sent:?}"
    );
}

#[test]
fn sigterm_ends_the_server_within_its_deadline_whatever_half_sent_requests_hold_it() {
    let world = World::new();
    let server = world.start();
    let api = server.as_user(&world, "dana");
    api.get("/v1/healthz").expect(200, "warm-up");
    // One client stops in the middle of its header, another in the middle of its body.
    let mut header = connect(&server);
    header
        .write_all(b"GET /v1/requests HTTP/1.1\r\nHost: cab\r\nX-Slow: ")
        .expect("half a header");
    let mut body = connect(&server);
    let token = world.token("dana");
    write!(
        body,
        "POST /v1/requests HTTP/1.1\r\nHost: cab\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"deployment"
    )
    .expect("half a body");
    // Both connections reached the server before the request that follows them.
    api.get("/v1/me").expect(200, "a request after them");
    server.wait_for_log_lines(&["route=/v1/me"], 1);

    server.signal(libc::SIGTERM);
    // SPEC: within 10 s; the bound leaves room for a loaded machine, and is shorter than the
    // 30 s header timeout, which would otherwise end the first connection by itself.
    let (status, log) = server.wait_exit_within(Duration::from_secs(25));
    assert_eq!(status.code(), Some(0), "{status}; log:\n{log}");
    assert!(
        log.lines().any(|l| l.ends_with("stopped")),
        "the log says it stopped:\n{log}"
    );
    drop((header, body));
}
