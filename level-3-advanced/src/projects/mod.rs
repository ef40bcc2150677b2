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

pub mod cracker;
pub mod image;
pub mod jobs;
pub mod pipeline;
pub mod raytracer;
