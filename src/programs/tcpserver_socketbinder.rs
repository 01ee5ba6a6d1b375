//! s6-tcpserver-socketbinder: binds a socket to ip:port, listens, and
//! execs prog with the socket on stdin.

use crate::fatal::{self, Fatal, Result};
use crate::net;
use crate::options::{self, Opt};
use crate::spawn::{self, EnvEdits};
use crate::sys;
use std::ffi::OsString;
use std::os::fd::AsRawFd;

const USAGE: &str =
    "s6-tcpserver-socketbinder [ -d | -D ] [ -b backlog ] [ -M | -m ] [ -B ] ip port prog...";

const TABLE: &[Opt] = &[
    Opt::flag("d reuse-address"),
    Opt::flag("D no-reuse-address"),
    Opt::value("b backlog"),
    Opt::flag("M tcp"),
    Opt::flag("m udp"),
    Opt::flag("B block"),
];

pub fn main() -> ! {
    fatal::run_main("s6-tcpserver-socketbinder", || run(spawn::args()))
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, TABLE, USAGE)?;
    let (mut reuse, mut udp, mut block) = (true, false, false);
    let mut backlog: u32 = libc::SOMAXCONN as u32;
    for f in &parsed.found {
        match f.key {
            "d" => reuse = true,
            "D" => reuse = false,
            "b" => backlog = f.number(USAGE)?,
            "M" => udp = false,
            "m" => udp = true,
            "B" => block = true,
            _ => {}
        }
    }
    if parsed.rest.len() < 3 {
        return Err(Fatal::usage(USAGE));
    }
    let (ip_s, port_s) = (
        parsed.rest[0].to_string_lossy(),
        parsed.rest[1].to_string_lossy(),
    );
    let ip = net::parse_ip(&ip_s)
        .ok_or_else(|| Fatal::usage_because(USAGE, format!("invalid IP address: {ip_s}")))?;
    let port = net::parse_port(&port_s)
        .ok_or_else(|| Fatal::usage_because(USAGE, format!("invalid port number: {port_s}")))?;
    let sock = net::socket(ip, udp, !block).map_err(|e| Fatal::sys("create socket", e))?;
    if reuse {
        rustix::net::sockopt::set_socket_reuseaddr(&sock, true)
            .map_err(|e| Fatal::sys("set SO_REUSEADDR", e))?;
    }
    let addr = std::net::SocketAddr::new(ip, port);
    rustix::net::bind(&sock, &addr)
        .map_err(|e| Fatal::sys(&format!("bind to {ip} port {port}"), e))?;
    if !udp && backlog > 0 {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        rustix::net::listen(&sock, backlog)
            .map_err(|e| Fatal::sys(&format!("listen to {ip} port {port}"), e))?;
    }
    sys::dup_to(sock.as_raw_fd(), 0).map_err(|e| Fatal::sys("move socket to stdin", e))?;
    drop(sock);
    Err(spawn::exec(&parsed.rest[2..], &EnvEdits::default()))
}
