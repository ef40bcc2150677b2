//! Tests of project l3-p5, the hash cracker (`level_3_advanced::projects::cracker`).
//!
//! Every search runs inside `run_within`, so a search that never stops fails the test instead
//! of hanging it. The expected answers are worked out here independently of the module: a
//! password's index from its letters, and the early-stop bound from the round structure.

use level_3_advanced::projects::cracker::{
    BLOCK, CrackError, Keyspace, MAX_LEAD_ROUNDS, Options, Outcome, Target, crack,
};
use shared::testing::{TIMEOUT, run_within};
use std::collections::HashSet;
use std::time::Duration;

/// Thread counts every search test runs with: one, as many as the machine's cores here, more
/// than the cores, and a count that does not divide the block count evenly.
const THREADS: [usize; 4] = [1, 2, 3, 4];

/// Searches with a deadline: a search that never stops fails the test.
fn search(password_or_hash: Target, max_len: usize, threads: usize) -> Outcome {
    // Generous: a debug build hashes slowly, and CI may be busy.
    run_within(TIMEOUT * 6, "crack", move || {
        let keyspace = Keyspace::new(max_len).expect("a valid max length");
        crack(&password_or_hash, keyspace, &Options::with_threads(threads))
    })
    .expect("the search failed")
}

/// The index of `word` computed the long way: count every shorter word, then read the word
/// as a base-26 number with `a` = 0.
fn expected_index(word: &str) -> u64 {
    let shorter: u64 = (1..word.len() as u32).map(|l| 26u64.pow(l)).sum();
    let rank = word
        .bytes()
        .fold(0u64, |rank, b| rank * 26 + u64::from(b - b'a'));
    shorter + rank
}

#[test]
fn the_index_to_candidate_mapping_is_a_bijection_on_small_lengths() {
    for max_len in 1..=3 {
        let keyspace = Keyspace::new(max_len).unwrap();
        let size = keyspace.size();
        let mut seen = HashSet::new();
        for index in 0..size {
            let word = keyspace
                .candidate(index)
                .unwrap_or_else(|| panic!("no candidate at {index} of {size}"));
            assert!((1..=max_len).contains(&word.len()), "{word:?}");
            assert!(word.bytes().all(|b| b.is_ascii_lowercase()), "{word:?}");
            assert_eq!(
                keyspace.index_of(&word),
                Some(index),
                "round trip of {word:?}"
            );
            assert!(
                seen.insert(word),
                "candidate {index} repeats an earlier one"
            );
        }
        // Every word of 1..=max_len letters was produced: 26 + 26² + ... of them, all
        // different, so the mapping is onto as well as one-to-one.
        let all: u64 = (1..=max_len as u32).map(|l| 26u64.pow(l)).sum();
        assert_eq!(seen.len() as u64, all);
        assert_eq!(keyspace.candidate(size), None, "nothing past the end");
    }
}

#[test]
fn the_order_is_shortest_first_then_alphabetical() {
    let keyspace = Keyspace::new(4).unwrap();
    for word in [
        "a", "z", "aa", "az", "ba", "zz", "aaa", "dog", "zzz", "aaaa", "hash", "zzzz",
    ] {
        assert_eq!(
            keyspace.index_of(word),
            Some(expected_index(word)),
            "{word}"
        );
        assert_eq!(
            keyspace.candidate(expected_index(word)).as_deref(),
            Some(word)
        );
    }
    assert_eq!(keyspace.index_of("abcde"), None, "too long");
    assert_eq!(keyspace.index_of("Dog"), None, "not lowercase");
    assert_eq!(keyspace.index_of(""), None, "empty");
}

#[test]
fn known_passwords_of_lengths_one_to_four_are_found_at_every_thread_count() {
    // One per length, spread through each length's range.
    for password in ["q", "zx", "cat", "hash"] {
        let target = Target::of_password(password);
        for threads in THREADS {
            let outcome = search(target, 4, threads);
            let found = outcome
                .found
                .unwrap_or_else(|| panic!("{password} not found with {threads} threads"));
            assert_eq!(found.password, password, "{threads} threads");
            assert_eq!(found.index, expected_index(password));
            assert!(found.thread < threads);
            assert_eq!(outcome.threads, threads);
            assert_eq!(outcome.tried_per_thread.len(), threads);
            assert_eq!(outcome.tried_per_thread.iter().sum::<u64>(), outcome.tried);
            // The finder hashed its own block from its start up to the password. (Not every
            // earlier candidate need have been tried: a thread that had not started yet when
            // the password was found stops without trying anything.)
            assert!(
                outcome.tried_per_thread[found.thread] > found.index % BLOCK,
                "{threads} threads: the finder tried {:?}",
                outcome.tried_per_thread
            );
            assert!(outcome.tried <= Keyspace::new(4).unwrap().size());
        }
    }
}

#[test]
fn the_block_owner_finds_the_password() {
    // Block b belongs to thread b % threads: interleaved, not chunked.
    let keyspace = Keyspace::new(4).unwrap();
    let index = 5 * BLOCK + 17;
    let password = keyspace.candidate(index).unwrap();
    for threads in THREADS {
        let found = search(Target::of_password(&password), 4, threads)
            .found
            .expect("in the keyspace");
        assert_eq!(found.thread, 5 % threads, "{threads} threads");
    }
}

#[test]
fn a_hash_outside_a_tiny_keyspace_is_not_found_after_trying_everything() {
    // "abcd" has four letters; the keyspace stops at three.
    let target = Target::of_password("abcd");
    for threads in THREADS {
        let outcome = search(target, 3, threads);
        assert_eq!(outcome.found, None, "{threads} threads");
        assert_eq!(
            outcome.tried,
            26 + 676 + 17_576,
            "every candidate is tried exactly once with {threads} threads"
        );
        assert_eq!(outcome.keyspace, outcome.tried);
    }
}

#[test]
fn every_thread_stops_soon_after_the_password_is_found() {
    // The password sits in the first block, which is thread 0's. The keyspace of five letters
    // has 12,356,630 candidates. Whatever the scheduling, no thread starts a round more than
    // MAX_LEAD_ROUNDS past the finder's, so the total tried is at most
    // (finder's round + MAX_LEAD_ROUNDS + 1) whole rounds of `threads` blocks.
    let max_len = 5;
    let keyspace_size = Keyspace::new(max_len).unwrap().size();
    for password in ["abc", "ajaa"] {
        let index = expected_index(password);
        for threads in THREADS {
            let outcome = search(Target::of_password(password), max_len, threads);
            let found = outcome.found.expect("in the keyspace");
            assert_eq!(found.index, index);
            let t = threads as u64;
            let finder_round = index / BLOCK / t;
            let bound = (finder_round + MAX_LEAD_ROUNDS + 1) * t * BLOCK;
            assert!(
                outcome.tried <= bound,
                "{threads} threads tried {} candidates for a password at index {index}; \
                 the bound is {bound}",
                outcome.tried
            );
            assert!(
                outcome.tried * 20 < keyspace_size,
                "the search should stop far short of the keyspace"
            );
        }
    }
}

#[test]
fn malformed_hashes_are_rejected_with_a_clear_error() {
    let too_short = "2cf24dba5fb0a30e26e83b2ac5b9e29e";
    assert!(matches!(
        Target::from_hex(too_short),
        Err(CrackError::HashLength(32))
    ));
    let too_long = format!("{}00", Target::of_password("x"));
    assert!(matches!(
        Target::from_hex(&too_long),
        Err(CrackError::HashLength(66))
    ));
    let not_hex = format!("{}zz", &Target::of_password("x").to_string()[..62]);
    let error = Target::from_hex(&not_hex).unwrap_err();
    assert!(
        matches!(
            error,
            CrackError::NotHex {
                position: 63,
                found: 'z'
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("position 63"), "{error}");
    assert!("".parse::<Target>().is_err());
    assert!("not a hash at all".parse::<Target>().is_err());
}

#[test]
fn a_digest_printed_and_parsed_back_is_the_same_target() {
    for word in ["a", "password", "mutex"] {
        let target = Target::of_password(word);
        assert_eq!(Target::from_hex(&target.to_string()).unwrap(), target);
    }
    // The SHA-256 of "abc", from FIPS 180-2's test vectors.
    assert_eq!(
        Target::of_password("abc").to_string(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn hashes_per_second_is_work_over_time() {
    let outcome = Outcome {
        found: None,
        tried: 3_000,
        tried_per_thread: vec![1_000, 2_000],
        keyspace: 3_000,
        threads: 2,
        elapsed: Duration::from_millis(500),
    };
    assert!((outcome.hashes_per_second() - 6_000.0).abs() < 1e-6);
}
