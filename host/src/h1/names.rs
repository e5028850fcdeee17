//! Field names remembered from one head to the next on a connection.
//!
//! A peer sends the same fields in the same order head after head (an upstream's `Server`,
//! `Date`, `Content-Type`, `Content-Length`, `Connection`). Making a [`HeaderName`] from the
//! bytes received looks the name up among the standard ones and lowercases it, and a name
//! that is not standard is copied into an allocation of its own; comparing the bytes with
//! those received at the same place in the previous head costs a fraction of that.

use http::header::{HeaderName, InvalidHeaderName};

/// Longer names are made anew every time. The longest standard name,
/// `content-security-policy-report-only`, has 35 bytes.
const LONGEST: usize = 40;
/// Fields past this many in a head have their names made anew every time.
const MOST: usize = 16;

/// The names of the fields of a connection's last head, by place, as received.
#[derive(Default)]
pub struct RecentNames(Vec<Recent>);

struct Recent {
    received: [u8; LONGEST],
    len: u8,
    name: HeaderName,
}

impl Recent {
    fn received(&self) -> &[u8] {
        &self.received[..usize::from(self.len)]
    }
}

impl RecentNames {
    /// The name of the head's field at `place`, received as `bytes`: the one made for the
    /// same bytes at that place in the previous head, else made (and validated) now.
    pub fn name(&mut self, place: usize, bytes: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
        if let Some(recent) = self.0.get(place)
            && recent.received() == bytes
        {
            return Ok(recent.name.clone());
        }
        let name = HeaderName::from_bytes(bytes)?;
        if place < MOST && place <= self.0.len() && bytes.len() <= LONGEST {
            let mut received = [0; LONGEST];
            received[..bytes.len()].copy_from_slice(bytes);
            let recent = Recent {
                received,
                // At most LONGEST: fits.
                len: bytes.len() as u8,
                name: name.clone(),
            };
            match self.0.get_mut(place) {
                Some(slot) => *slot = recent,
                None => self.0.push(recent),
            }
        }
        Ok(name)
    }
}

/// Makes every name anew: for heads whose connection keeps no [`RecentNames`].
pub fn fresh_name(_place: usize, bytes: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
    HeaderName::from_bytes(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(recent: &mut RecentNames, head: &[&str]) -> Vec<HeaderName> {
        head.iter()
            .enumerate()
            .map(|(place, name)| recent.name(place, name.as_bytes()).unwrap())
            .collect()
    }

    #[test]
    fn a_repeated_head_gets_the_names_made_for_the_first() {
        let mut recent = RecentNames::default();
        let head = ["Server", "Date", "X-Request-Id", "Content-Length"];
        let first = names(&mut recent, &head);
        assert_eq!(first[0], http::header::SERVER);
        assert_eq!(first[2].as_str(), "x-request-id");
        let second = names(&mut recent, &head);
        assert_eq!(first, second);
        assert_eq!(recent.0.len(), 4);
    }

    #[test]
    fn every_standard_name_is_remembered() {
        let mut recent = RecentNames::default();
        let longest = b"Content-Security-Policy-Report-Only";
        assert_eq!(
            recent.name(0, longest).unwrap(),
            http::header::CONTENT_SECURITY_POLICY_REPORT_ONLY
        );
        assert_eq!(recent.0[0].received(), longest);
    }

    #[test]
    fn bytes_that_differ_at_a_place_make_a_new_name_and_replace_the_old() {
        let mut recent = RecentNames::default();
        names(&mut recent, &["Server", "Date"]);
        // Case differs: the same name, made anew and remembered with the new bytes.
        assert_eq!(recent.name(0, b"SERVER").unwrap(), http::header::SERVER);
        assert_eq!(recent.0[0].received(), b"SERVER");
        // Another name at a known place, and one past the known places.
        assert_eq!(recent.name(1, b"Vary").unwrap(), http::header::VARY);
        assert_eq!(recent.name(2, b"ETag").unwrap(), http::header::ETAG);
        assert_eq!(recent.name(0, b"Server").unwrap(), http::header::SERVER);
        assert_eq!(recent.name(1, b"Date").unwrap(), http::header::DATE);
    }

    #[test]
    fn a_name_is_never_taken_for_one_that_differs_only_past_case() {
        let mut recent = RecentNames::default();
        // '^' and '~' differ by the bit that ASCII case differs by.
        assert_eq!(recent.name(0, b"x-a~b").unwrap().as_str(), "x-a~b");
        assert_eq!(recent.name(0, b"x-a^b").unwrap().as_str(), "x-a^b");
    }

    #[test]
    fn invalid_names_are_refused_every_time() {
        let mut recent = RecentNames::default();
        assert!(recent.name(0, b"bad name").is_err());
        assert!(recent.name(0, b"bad name").is_err());
        assert!(recent.0.is_empty());
        assert!(recent.name(0, b"").is_err());
    }

    #[test]
    fn long_names_and_late_places_are_made_without_being_kept() {
        let mut recent = RecentNames::default();
        let long = "x-".repeat(LONGEST / 2 + 1);
        assert_eq!(recent.name(0, long.as_bytes()).unwrap().as_str(), long);
        assert!(recent.0.is_empty());
        // A place beyond the next one is not remembered (no gaps).
        assert_eq!(recent.name(3, b"Date").unwrap(), http::header::DATE);
        assert!(recent.0.is_empty());
        let many: Vec<String> = (0..MOST + 4).map(|i| format!("x-field-{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let made = names(&mut recent, &many);
        assert_eq!(made[MOST + 3].as_str(), format!("x-field-{}", MOST + 3));
        assert_eq!(recent.0.len(), MOST);
    }
}
