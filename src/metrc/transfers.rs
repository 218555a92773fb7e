//! The transfer calls of [`Client`]: posting an outgoing template, listing the
//! templates and the outgoing transfers in `lastModified` windows, and each transfer's
//! deliveries with their packages' `ShipmentPackageState` (METRC-API.md §5). Only
//! the fields tagtally reads are kept; unknown fields are ignored, ids and counts
//! may come as numbers or strings, and Metrc's `0001-01-01` sentinel is no time.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::client::{Client, Retry};
use super::plan::{self, MetrcError, Window};

/// One outgoing template as `GET /transfers/v2/templates/outgoing` lists it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateRow {
    #[serde(deserialize_with = "int")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "time")]
    pub last_modified: Option<DateTime<Utc>>,
}

/// One outgoing transfer (a manifest) as `GET /transfers/v2/outgoing` lists it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransferRow {
    #[serde(deserialize_with = "int")]
    pub id: i64,
    #[serde(default)]
    pub manifest_number: Option<String>,
    #[serde(default, deserialize_with = "time")]
    pub last_modified: Option<DateTime<Utc>>,
}

/// One delivery of a transfer (`GET /transfers/v2/{id}/deliveries`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryRow {
    #[serde(deserialize_with = "int")]
    pub id: i64,
    #[serde(default)]
    pub manifest_number: Option<String>,
    #[serde(default)]
    pub recipient_facility_license_number: Option<String>,
    #[serde(default, deserialize_with = "time")]
    pub received_date_time: Option<DateTime<Utc>>,
}

/// One package of a delivery (`GET /transfers/v2/deliveries/{id}/packages`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryPackage {
    pub package_label: String,
    /// `Shipped`, `Accepted`, `Rejected` or `Returned`.
    #[serde(default)]
    pub shipment_package_state: Option<String>,
}

/// An id or count as a number, or as the text of one.
fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number"))),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a whole number"))),
        v => Err(serde::de::Error::custom(format!("{v} is not an id"))),
    }
}

/// A Metrc time in any of its forms; null, empty and `0001-01-01...` are none.
fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.as_deref().and_then(plan::parse_time))
}

/// One page of a list: its rows and how many pages there are.
struct Rows<T> {
    rows: Vec<T>,
    total_pages: u32,
}

/// `{"Data": [...], "TotalPages": n, ...}`, or a bare list (one page).
fn rows_of<T: DeserializeOwned>(what: &str, body: &[u8], page: u32) -> Result<Rows<T>, MetrcError> {
    let bad = |e: String| MetrcError::BadAnswer {
        what: what.to_string(),
        message: e,
    };
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let (data, total_pages) = match v {
        Value::Array(a) => (a, page),
        Value::Object(mut o) => {
            let data = match o.remove("Data") {
                Some(Value::Array(a)) => a,
                Some(Value::Null) | None => vec![],
                Some(other) => return Err(bad(format!("Data is {other}, not a list"))),
            };
            let pages = o
                .get("TotalPages")
                .and_then(Value::as_u64)
                .map(|p| p as u32)
                .unwrap_or(page);
            (data, pages)
        }
        other => return Err(bad(format!("expected a list or a page, found {other}"))),
    };
    let rows = data
        .into_iter()
        .enumerate()
        .map(|(i, r)| serde_json::from_value(r).map_err(|e| bad(format!("row {}: {e}", i + 1))))
        .collect::<Result<_, _>>()?;
    Ok(Rows { rows, total_pages })
}

impl Client {
    /// Every page of a paged list at `path`.
    async fn all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<Vec<T>, MetrcError> {
        let mut out = vec![];
        let mut page = 1;
        loop {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("pageNumber", page.to_string()));
            q.push(("pageSize", plan::PAGE_SIZE.to_string()));
            let what = format!("page {page} of {what}");
            let license = self.license().to_string();
            let (body, _) = self.get(path, &q, &what, Some(&license)).await?;
            let r: Rows<T> = rows_of(&what, &body, page)?;
            out.extend(r.rows);
            match plan::next_page(page, r.total_pages) {
                Some(n) => page = n,
                None => return Ok(out),
            }
        }
    }

    fn licensed(&self) -> (&'static str, String) {
        ("licenseNumber", self.license().to_string())
    }

    /// `POST /transfers/v2/templates/outgoing`: `body` is the array of one template.
    /// Answers the ids Metrc gave. Not retried once it may have reached Metrc: the
    /// caller lists the templates before it posts again.
    pub async fn post_template(&self, body: &Value) -> Result<Vec<i64>, MetrcError> {
        let what = "the transfer template";
        let license = self.license().to_string();
        let a = self
            .send(
                reqwest::Method::POST,
                "transfers/v2/templates/outgoing",
                &[self.licensed()],
                Some(body),
                what,
                Some(&license),
                Retry::Write,
            )
            .await?;
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "Ids", default)]
            ids: Vec<Value>,
        }
        // "No response" in some instances' docs: an empty body is a success with no id.
        if a.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(vec![]);
        }
        let c: Created = serde_json::from_slice(&a.body).map_err(|e| MetrcError::BadAnswer {
            what: what.into(),
            message: e.to_string(),
        })?;
        Ok(c.ids
            .iter()
            .filter_map(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
            .collect())
    }

    /// The outgoing templates modified in `w`, every page.
    pub async fn templates(&self, w: &Window) -> Result<Vec<TemplateRow>, MetrcError> {
        let [start, end] = w.query();
        self.all_pages(
            "transfers/v2/templates/outgoing",
            &[self.licensed(), start, end],
            "the outgoing templates",
        )
        .await
    }

    /// The outgoing transfers modified in `w`, every page.
    pub async fn outgoing(&self, w: &Window) -> Result<Vec<TransferRow>, MetrcError> {
        let [start, end] = w.query();
        self.all_pages(
            "transfers/v2/outgoing",
            &[self.licensed(), start, end],
            "the outgoing transfers",
        )
        .await
    }

    /// The deliveries of transfer `transfer`.
    pub async fn deliveries(&self, transfer: i64) -> Result<Vec<DeliveryRow>, MetrcError> {
        self.all_pages(
            &format!("transfers/v2/{transfer}/deliveries"),
            &[self.licensed()],
            &format!("the deliveries of transfer {transfer}"),
        )
        .await
    }

    /// The packages of delivery `delivery`, with their `ShipmentPackageState`.
    pub async fn delivery_packages(
        &self,
        delivery: i64,
    ) -> Result<Vec<DeliveryPackage>, MetrcError> {
        self.all_pages(
            &format!("transfers/v2/deliveries/{delivery}/packages"),
            &[self.licensed()],
            &format!("the packages of delivery {delivery}"),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_every_shape_metrc_sends() {
        let page = br#"{"Data":[{"Id":"7","Name":"L-1 2026-12-01","LastModified":"0001-01-01T00:00:00+00:00","Extra":1}],"TotalPages":3}"#;
        let r: Rows<TemplateRow> = rows_of("t", page, 1).unwrap();
        assert_eq!(r.total_pages, 3);
        assert_eq!(r.rows[0].id, 7);
        assert_eq!(r.rows[0].last_modified, None, "the sentinel is no time");
        let bare = br#"[{"Id":3.0,"ManifestNumber":"0000000003","LastModified":"2026-12-01T10:00:00-08:00"}]"#;
        let r: Rows<TransferRow> = rows_of("t", bare, 1).unwrap();
        assert_eq!(r.total_pages, 1);
        assert_eq!(r.rows[0].id, 3);
        assert_eq!(
            r.rows[0].last_modified,
            Some("2026-12-01T18:00:00Z".parse().unwrap())
        );
        let empty = br#"{"Data":null}"#;
        let r: Rows<DeliveryRow> = rows_of("t", empty, 1).unwrap();
        assert!(r.rows.is_empty());
        let broken = br#"{"Data":[{"Id":"x"}]}"#;
        let e = rows_of::<DeliveryRow>("the deliveries", broken, 1)
            .err()
            .unwrap();
        assert!(e.to_string().contains("row 1"), "{e}");
    }
}
