//! Fds whose behaviour is a script: reads and writes that come short, that
//! would block, that fail with EPIPE, sources that end with EOF. Every
//! blocking decision consumes one script byte, so once the script is used
//! up every port is always ready and a correct loop must finish.

use crate::io_loop::{Port, Ports};
use std::io;
use std::time::Duration;

pub struct ScriptedPorts {
    script: Vec<u8>,
    at: usize,
    app_src: Vec<u8>,
    app_pos: usize,
    net_src: Vec<u8>,
    net_pos: usize,
    /// After this many bytes, writes to the app fail with EPIPE.
    pub app_reader_limit: Option<usize>,
    pub app_sink: Vec<u8>,
    pub net_sink: Vec<u8>,
    pub closed: [bool; 4],
    blocked: [bool; 4],
    pub polls: usize,
    pub calls: usize,
    /// The size of every write to the network that moved bytes.
    pub net_writes: Vec<usize>,
    /// The size of every write to the app that moved bytes.
    pub app_writes: Vec<usize>,
}

impl ScriptedPorts {
    pub fn new(script: Vec<u8>, app_src: Vec<u8>, net_src: Vec<u8>) -> Self {
        ScriptedPorts {
            script,
            at: 0,
            app_src,
            app_pos: 0,
            net_src,
            net_pos: 0,
            app_reader_limit: None,
            app_sink: Vec::new(),
            net_sink: Vec::new(),
            closed: [false; 4],
            blocked: [false; 4],
            polls: 0,
            calls: 0,
            net_writes: Vec::new(),
            app_writes: Vec::new(),
        }
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.script.get(self.at).copied();
        self.at += 1;
        b
    }

    /// How many bytes this operation moves at most, or `None` if it blocks.
    fn decide(&mut self, port: Port, want: usize) -> Option<usize> {
        if self.blocked[port as usize] {
            return None;
        }
        match self.next() {
            None => Some(want),
            Some(b) if b < 40 => {
                self.blocked[port as usize] = true;
                None
            }
            Some(b) if b < 160 => Some(want.min(1 + b as usize % 37)),
            Some(_) => Some(want),
        }
    }

    fn check_open(&self, port: Port) {
        assert!(!self.closed[port as usize], "{port:?} used after close");
    }
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

impl Ports for ScriptedPorts {
    fn read(&mut self, port: Port, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        self.check_open(port);
        assert!(
            matches!(port, Port::AppIn | Port::NetIn),
            "read from {port:?}"
        );
        assert!(!buf.is_empty(), "read into an empty buffer");
        let n = self.decide(port, buf.len()).ok_or_else(would_block)?;
        let (src, pos) = match port {
            Port::AppIn => (&self.app_src, &mut self.app_pos),
            _ => (&self.net_src, &mut self.net_pos),
        };
        let n = n.min(src.len() - *pos);
        buf[..n].copy_from_slice(&src[*pos..*pos + n]);
        *pos += n;
        Ok(n)
    }

    fn write(&mut self, port: Port, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        self.check_open(port);
        assert!(
            matches!(port, Port::AppOut | Port::NetOut),
            "write to {port:?}"
        );
        assert!(!buf.is_empty(), "empty write");
        if port == Port::AppOut
            && let Some(limit) = self.app_reader_limit
            && self.app_sink.len() >= limit
        {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = self.decide(port, buf.len()).ok_or_else(would_block)?;
        let sink = if port == Port::AppOut {
            self.app_writes.push(n);
            &mut self.app_sink
        } else {
            self.net_writes.push(n);
            &mut self.net_sink
        };
        sink.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn close(&mut self, port: Port) {
        self.closed[port as usize] = true;
    }

    fn poll(&mut self, want: [bool; 4], _timeout: Option<Duration>) -> io::Result<[bool; 4]> {
        self.polls += 1;
        for (i, w) in want.iter().enumerate() {
            if *w {
                assert!(!self.closed[i], "poll on closed port {i}");
                self.blocked[i] = false;
            }
        }
        Ok(want)
    }
}
