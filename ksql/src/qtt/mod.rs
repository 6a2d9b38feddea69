//! The conformance runner for ksqlDB's query-validation tests (`tributary ksql qtt`): each
//! variant of each case runs against a cluster of its own, and the report gives the verdicts
//! per case, per file, per format and overall.

pub mod case;
pub mod compare;
pub mod json;
pub mod rest;
pub mod run;

use std::collections::BTreeMap;

pub use case::{load, Variant};
pub use run::{run_variant, Verdict};

/// The verdict of one variant, as reported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    /// The file (without `.json`).
    pub file: String,
    /// The variant's full name.
    pub name: String,
    /// The formats it uses.
    pub formats: Vec<String>,
    /// `pass`, `fail` or `skipped`.
    pub verdict: &'static str,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Passed and run counts.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Tally {
    /// Variants that passed.
    pub passed: usize,
    /// Variants that ran.
    pub run: usize,
    /// Variants skipped (they need a schema registry).
    pub skipped: usize,
}

impl Tally {
    fn add(&mut self, r: &CaseResult) {
        match r.verdict {
            "pass" => {
                self.passed += 1;
                self.run += 1;
            }
            "fail" => self.run += 1,
            _ => self.skipped += 1,
        }
    }

    /// The pass rate in percent (of the variants run).
    pub fn percent(&self) -> f64 {
        if self.run == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / self.run as f64
        }
    }
}

/// Every verdict, and their tallies.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// Per variant.
    pub cases: Vec<CaseResult>,
    /// Per file.
    pub files: BTreeMap<String, Tally>,
    /// Per format (a variant counts under each format it uses).
    pub formats: BTreeMap<String, Tally>,
    /// Variants whose formats are only JSON, DELIMITED, KAFKA or NONE (the measure).
    pub in_scope: Tally,
    /// Overall (the query-validation tests).
    pub total: Tally,
    /// The REST suite's cases whose formats are only JSON, DELIMITED, KAFKA or NONE (counted
    /// apart: in no other tally but their file's).
    pub rest: Tally,
}

/// The formats Tributary serves without a schema registry.
pub const BASIC_FORMATS: &[&str] = &["JSON", "DELIMITED", "KAFKA", "NONE"];

impl Report {
    /// Adds a verdict.
    pub fn add(&mut self, r: CaseResult) {
        self.files.entry(r.file.clone()).or_default().add(&r);
        if r.file.starts_with("rest/") {
            if r.formats
                .iter()
                .all(|f| BASIC_FORMATS.contains(&f.as_str()))
            {
                self.rest.add(&r);
            }
            self.cases.push(r);
            return;
        }
        for f in &r.formats {
            if BASIC_FORMATS.contains(&f.as_str()) {
                self.formats.entry(f.clone()).or_default().add(&r);
            }
        }
        if r.formats
            .iter()
            .all(|f| BASIC_FORMATS.contains(&f.as_str()))
        {
            self.in_scope.add(&r);
        }
        self.total.add(&r);
        self.cases.push(r);
    }
}

/// The result of a variant that ran.
pub fn result(v: &Variant, verdict: Verdict) -> CaseResult {
    let (verdict, reason) = match verdict {
        Verdict::Pass => ("pass", None),
        Verdict::Fail(r) => ("fail", Some(r)),
    };
    CaseResult {
        file: v.file.clone(),
        name: v.name.clone(),
        formats: v.formats.clone(),
        verdict,
        reason,
    }
}

/// The result of a variant that needs a schema registry.
pub fn skipped(v: &Variant) -> CaseResult {
    CaseResult {
        file: v.file.clone(),
        name: v.name.clone(),
        formats: v.formats.clone(),
        verdict: "skipped",
        reason: Some("needs a schema registry".into()),
    }
}
