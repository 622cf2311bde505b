//! Capture + tshark analysis on a non-179 port: a valid KEEPALIVE is decoded and not flagged,
//! a truncated OPEN is counted as malformed (needs root, tcpdump, tshark, python3).

use std::time::Duration;

use testlab::{Capture, Netns, link, require_root_and};

/// Sends `hex` bytes over TCP from `client` to 10.86.0.1:1179 where `server` accepts once.
fn send_once(server: &Netns, client: &Netns, hex: &str) {
    let srv = server
        .spawn_args(
            &[
                "python3",
                "-c",
                "import socket\n\
                 s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 s.bind(('10.86.0.1', 1179)); s.listen(1); c,_=s.accept()\n\
                 while c.recv(4096): pass\n",
            ],
            None,
        )
        .unwrap();
    let script = format!(
        "import socket,time\n\
         for _ in range(100):\n    \
             try:\n        s=socket.create_connection(('10.86.0.1',1179)); break\n    \
             except OSError: time.sleep(0.05)\n\
         s.sendall(bytes.fromhex('{hex}')); s.close()\n"
    );
    client.exec(&["python3", "-c", &script]).unwrap();
    assert!(server.wait_exit(srv, Duration::from_secs(10)).is_some());
}

#[test]
fn capture_flags_malformed_bgp_and_not_valid_bgp() {
    if !require_root_and(&["tcpdump", "tshark", "python3"]) {
        return;
    }
    let a = Netns::new("tca").unwrap();
    let b = Netns::new("tcb").unwrap();
    let _v = link(&a, "10.86.0.1/24", &b, "10.86.0.2/24").unwrap();
    let marker = "ff".repeat(16);

    let mut good = Capture::start(&a, "veth0", Some(1179)).unwrap();
    send_once(&a, &b, &format!("{marker}001304"));
    good.stop().unwrap();
    assert_eq!(
        good.bgp_message_count(4).unwrap(),
        1,
        "one KEEPALIVE decoded"
    );
    assert_eq!(good.malformed_count().unwrap(), 0);

    // An OPEN whose length says 29 but whose optional parameters run past it.
    let mut bad = Capture::start(&a, "veth0", Some(1179)).unwrap();
    send_once(
        &a,
        &b,
        &format!("{marker}001d0104fde800090a0000020502030100"),
    );
    bad.stop().unwrap();
    assert!(
        bad.malformed_count().unwrap() >= 1,
        "truncated OPEN not flagged"
    );
}
