use std::net::{Ipv4Addr, TcpListener};

/// A loopback port that was free a moment ago.
///
/// The port is released before returning so a child process can bind it, which leaves a window in
/// which something else may take it; [`crate::ServerProcess::start`] retries on another port when
/// that happens.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("cannot bind an ephemeral port on 127.0.0.1: {e}"));
    listener
        .local_addr()
        .expect("bound listener has a local address")
        .port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let port = free_port();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("port from free_port() can be bound");
    }
}
