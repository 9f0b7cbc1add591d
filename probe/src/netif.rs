//! The host's IPv4 interface addresses, for the Host node's `local_networks`.
//!
//! procfs has no view of interface addresses (`/proc/net/route` lists routes, not the addresses
//! a host owns, and misses loopback), so this asks libc's `getifaddrs`, as Go's
//! `net.InterfaceAddrs` does for the real probe.

use std::net::Ipv4Addr;

/// Every IPv4 address of every interface as `address/prefix` (`10.231.0.1/24`, `127.0.0.1/8`):
/// the interface's own address with its netmask's length, which is how the real probe writes
/// them (Go's `IPNet.String()` of an interface address). Loopback is included, as it is there.
/// Sorted and de-duplicated; empty when the call fails.
pub(crate) fn ipv4_networks() -> Vec<String> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs either fails and leaves `head` alone, or points it at a list that we
    // own until the freeifaddrs below; nothing keeps a pointer into it past that.
    if unsafe { libc::getifaddrs(&raw mut head) } != 0 {
        return out;
    }
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*cursor };
        // SAFETY: both pointers are null or point at sockaddrs of the family they announce.
        if let (Some(addr), Some(mask)) =
            unsafe { (ipv4_of(entry.ifa_addr), ipv4_of(entry.ifa_netmask)) }
        {
            out.push(format!("{addr}/{}", u32::from(mask).leading_ones()));
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out.sort();
    out.dedup();
    out
}

/// The IPv4 address in a sockaddr, if it holds one.
///
/// # Safety
/// `sa` is null or points at a valid sockaddr whose `sa_family` says how long it is.
unsafe fn ipv4_of(sa: *const libc::sockaddr) -> Option<Ipv4Addr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: non-null and valid per the contract; the family decides the cast.
    unsafe {
        if i32::from((*sa).sa_family) != libc::AF_INET {
            return None;
        }
        let sin = &*(sa.cast::<libc::sockaddr_in>());
        Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_is_listed_with_its_prefix() {
        let nets = super::ipv4_networks();
        assert!(nets.iter().any(|n| n == "127.0.0.1/8"), "{nets:?}");
    }
}
