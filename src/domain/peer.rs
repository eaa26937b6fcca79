//! The client's address, as every front-end takes it: the socket's peer, unless that peer is a
//! configured proxy (`trusted_proxies`), in which case the proxy's `Forwarded` (else
//! `X-Forwarded-For`) chain names the client. The chain is read from the right, skipping our
//! own proxies, so a client cannot choose its address by sending the header itself; the login
//! limiter counts per address (README "Logins").

use std::net::IpAddr;

/// The client's address for a connection from `peer` carrying these header values (every
/// `Forwarded` and every `X-Forwarded-For` line, in order).
pub fn client_ip<'a>(
    trusted: &[IpAddr],
    peer: IpAddr,
    forwarded: impl IntoIterator<Item = &'a str>,
    x_forwarded_for: impl IntoIterator<Item = &'a str>,
) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = forwarded
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| bare_address(value.trim().trim_matches('"')).parse().ok())?
            })
        })
        .collect();
    if chain.is_empty() {
        chain = x_forwarded_for
            .into_iter()
            .flat_map(|v| v.split(','))
            .filter_map(|a| bare_address(a.trim()).parse().ok())
            .collect();
    }
    chain
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
}

/// `host[:port]` or `[v6]:port` without the port; a bare IPv6 address as it is.
fn bare_address(value: &str) -> &str {
    if let Some(v6) = value.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match value.matches(':').count() {
        1 => value.split(':').next().unwrap_or(value),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client_from_the_right() {
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        let none: [&str; 0] = [];
        // A client talking to us directly cannot choose its address.
        assert_eq!(
            client_ip(&trusted, ip("198.51.100.7"), none, ["1.2.3.4"]),
            ip("198.51.100.7")
        );
        // Behind our proxy: the rightmost address that is not one of our proxies.
        assert_eq!(
            client_ip(
                &trusted,
                ip("127.0.0.1"),
                none,
                ["6.6.6.6, 5.6.7.8", "10.0.0.2"]
            ),
            ip("5.6.7.8")
        );
        assert_eq!(
            client_ip(
                &trusted,
                ip("127.0.0.1"),
                ["for=\"[2001:db8::1]:4711\";proto=https", "for=10.0.0.2"],
                ["1.2.3.4"]
            ),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(
                &trusted,
                ip("127.0.0.1"),
                ["proto=http;for=7.7.7.7:80"],
                none
            ),
            ip("7.7.7.7")
        );
        assert_eq!(
            client_ip(&trusted, ip("127.0.0.1"), none, ["2001:db8::5"]),
            ip("2001:db8::5")
        );
        // Nothing usable: the proxy itself.
        assert_eq!(
            client_ip(&trusted, ip("127.0.0.1"), ["for=unknown"], ["garbage"]),
            ip("127.0.0.1")
        );
    }
}
