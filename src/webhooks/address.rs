//! The address guard: a webhook never reaches the server's own network. An endpoint's URL
//! is checked when it is written (http or https, absolute, at most [`URL_CHARS_MAX`]
//! characters, a host that does not resolve to a refused address), and every connection
//! is checked again when it is made: the HTTP client resolves names through
//! [`GuardedResolver`], which drops refused addresses, so a name that resolved to a public
//! address when the endpoint was written and to a private one later (DNS rebinding) still
//! cannot reach it. Refused: loopback, link-local (with the cloud metadata address
//! 169.254.169.254), private (RFC 1918, fc00::/7), shared (100.64.0.0/10), unspecified,
//! broadcast, multicast and reserved addresses, and those embedded in IPv4-mapped or NAT64
//! IPv6 addresses. `webhooks.allow_private_addresses` lifts the guard (tests, a receiver
//! on the same host).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// The longest URL an endpoint may have.
pub const URL_CHARS_MAX: usize = 2048;

/// Why `address` is refused, or `None` when a webhook may reach it.
pub fn refusal(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(address) => refusal_v4(address),
        IpAddr::V6(address) => refusal_v6(address),
    }
}

fn refusal_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [first, second, ..] = address.octets();
    let reason = if address.is_loopback() {
        "a loopback address"
    } else if first == 0 {
        "an unspecified address (0.0.0.0/8)"
    } else if address.is_link_local() {
        "a link-local address (169.254.0.0/16, with the metadata address)"
    } else if address.is_private() {
        "a private address (RFC 1918)"
    } else if first == 100 && (64..128).contains(&second) {
        "a shared address (100.64.0.0/10)"
    } else if address.is_broadcast() || address.is_multicast() || first >= 240 {
        "a broadcast, multicast or reserved address"
    } else {
        return None;
    };
    Some(reason)
}

fn refusal_v6(address: Ipv6Addr) -> Option<&'static str> {
    if let Some(embedded) = embedded_v4(address) {
        return refusal_v4(embedded);
    }
    let first = address.segments()[0];
    let reason = if address.is_loopback() {
        "a loopback address"
    } else if address.is_unspecified() {
        "an unspecified address (::)"
    } else if first & 0xffc0 == 0xfe80 {
        "a link-local address (fe80::/10)"
    } else if first & 0xfe00 == 0xfc00 {
        "a private address (fc00::/7)"
    } else if address.is_multicast() {
        "a multicast address"
    } else {
        return None;
    };
    Some(reason)
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`) or NAT64
/// (`64:ff9b::a.b.c.d`) address.
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(mapped) = address.to_ipv4_mapped() {
        return Some(mapped);
    }
    let segments = address.segments();
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    nat64.then(|| {
        let [.., high, low] = segments;
        Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
    })
}

/// Parses and checks an endpoint's URL (everything but what its name resolves to).
pub fn parse_url(text: &str, allow_private: bool) -> Result<Url, String> {
    if text.chars().count() > URL_CHARS_MAX {
        return Err(format!("at most {URL_CHARS_MAX} characters"));
    }
    let url = Url::parse(text).map_err(|error| format!("not an absolute URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the scheme must be http or https".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("a URL with a host".to_owned());
    }
    if !allow_private {
        if let Some(reason) = literal_refusal(&url) {
            return Err(format!("the host is {reason}"));
        }
    }
    Ok(url)
}

/// Why the URL's host, when it is an address literal, is refused.
pub fn literal_refusal(url: &Url) -> Option<&'static str> {
    refusal(literal_address(url)?)
}

/// The URL's host when it is an address (the parser has already normalized forms such as
/// `2130706433` to `127.0.0.1`).
fn literal_address(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// Resolves the URL's host name and refuses it when it resolves to a refused address. A
/// name that does not resolve now passes: it reaches nothing, and every connection is
/// checked again by [`GuardedResolver`].
pub async fn check_resolved(url: &Url) -> Result<(), String> {
    let Some(name) = url.host_str().filter(|_| literal_address(url).is_none()) else {
        return Ok(());
    };
    let Ok(addresses) = tokio::net::lookup_host((name, 0)).await else {
        return Ok(());
    };
    for address in addresses {
        if let Some(reason) = refusal(address.ip()) {
            return Err(format!(
                "the host {name} resolves to {reason} ({})",
                address.ip()
            ));
        }
    }
    Ok(())
}

/// The HTTP client's resolver: the system's lookup, without refused addresses.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| allow_private || refusal(address.ip()).is_none())
                .collect();
            if resolved.is_empty() {
                let reason = format!("{host} resolves to no address a webhook may reach");
                return Err(reason.into());
            }
            let addresses: Addrs = Box::new(resolved.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        refusal(text.parse().expect("an address")).is_some()
    }

    #[test]
    fn every_refused_range_is_refused() {
        let refused_addresses = [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ];
        for address in refused_addresses {
            assert!(refused(address), "{address} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!refused(address), "{address} must pass");
        }
    }

    #[test]
    fn urls_must_be_absolute_http_within_the_bound() {
        assert!(parse_url("https://hooks.example.com/in", false).is_ok());
        assert!(parse_url("http://93.184.216.34:8080/x?y=1", false).is_ok());
        for bad in [
            "ftp://hooks.example.com/in",
            "file:///etc/passwd",
            "/relative/path",
            "hooks.example.com/in",
            "https://",
            "",
        ] {
            assert!(parse_url(bad, false).is_err(), "{bad:?} must be refused");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(URL_CHARS_MAX));
        assert!(parse_url(&long, false).is_err());
    }

    #[test]
    fn address_literals_are_checked_unless_private_addresses_are_allowed() {
        for url in [
            "http://127.0.0.1:9000/in",
            "http://[::1]/in",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/in",
            "http://[fd00::5]/in",
            "http://0.0.0.0/in",
            "http://2130706433/in",
        ] {
            let error = parse_url(url, false).expect_err(url);
            assert!(error.contains("the host is"), "{url}: {error}");
            assert!(parse_url(url, true).is_ok(), "{url} with private allowed");
        }
    }

    #[actix_web::test]
    async fn names_resolving_to_refused_addresses_are_refused() {
        let url = parse_url("http://localhost:9000/in", false).expect("a name passes parsing");
        let error = check_resolved(&url)
            .await
            .expect_err("localhost is loopback");
        assert!(error.contains("loopback"), "{error}");
    }

    #[actix_web::test]
    async fn the_resolver_drops_refused_addresses() {
        let guarded = GuardedResolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().expect("a name");
        assert!(guarded.resolve(name).await.is_err());
        let open = GuardedResolver {
            allow_private: true,
        };
        let name: Name = "localhost".parse().expect("a name");
        let addresses: Vec<SocketAddr> = open.resolve(name).await.expect("resolves").collect();
        assert!(addresses.iter().all(|address| address.ip().is_loopback()));
    }
}
