//! The five practice projects the Node course names and never builds, each a small real
//! program: its command-line front end is an example (`examples/l3-p*.rs`), its core logic
//! lives here, where it is tested.
//!
//! | project | example | module |
//! |---|---|---|
//! | image processor | `l3-p1-image-processor` | [`image`] |
//! | data pipeline | `l3-p2-data-pipeline` | [`pipeline`] |
//! | background job system | `l3-p3-job-system` | [`jobs`] |
//! | ray tracer | `l3-p4-ray-tracer` | [`raytracer`] |
//! | hash cracker | `l3-p5-hash-cracker` | [`cracker`] |
//!
//! The five command lines share [`cli`]: one thread limit, one error style, one set of exit
//! codes, and every argument checked before any work.

pub mod cli;
pub mod cracker;
pub mod image;
pub mod jobs;
pub mod pipeline;
pub mod raytracer;

/// `n` with its digits in groups of three, as the projects print big counts: `1234567` is
/// `1,234,567`.
///
/// ```
/// assert_eq!(level_3_advanced::projects::grouped(12_356_630), "12,356,630");
/// assert_eq!(level_3_advanced::projects::grouped(999), "999");
/// ```
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn grouped_puts_a_comma_every_three_digits_from_the_right() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(100_000), "100,000");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }
}
