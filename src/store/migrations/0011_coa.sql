-- 0011: certificates of analysis. Packages keep Metrc's numeric Id (the lab results
-- endpoint takes it, not the tag). The hub keeps the lab result rows it read (one per
-- test type), each COA document once (its PDF in `attachments`, content-addressed and
-- append-only, so a COA covering many packages is stored once), and per package the
-- COA fact that travels to devices with the package (devices hold only that fact).
-- Landed migrations never change; a new change is a new numbered file.
ALTER TABLE packages ADD COLUMN metrc_id INTEGER;

-- Metrc's rows of /labtests/v2/results, unrevoked, as last read for each package.
CREATE TABLE lab_results (
    tag         TEXT NOT NULL,
    result_id   INTEGER NOT NULL,   -- LabTestResultId
    test_type   TEXT NOT NULL,      -- TestTypeName
    passed      INTEGER,            -- TestPassed (else OverallPassed)
    document_id INTEGER,            -- LabTestResultDocumentFileId
    released    INTEGER,            -- ResultReleased
    PRIMARY KEY (tag, result_id, test_type)
) STRICT;
CREATE INDEX lab_results_document ON lab_results (document_id);

-- One row per COA document: Metrc's document id and the SHA-256 of its PDF.
CREATE TABLE coa_documents (
    document_id INTEGER PRIMARY KEY,
    sha256      TEXT NOT NULL REFERENCES attachments (sha256),
    fetched_at  TEXT NOT NULL
) STRICT;

-- The COA fact of a package (JSON of domain::coa::CoaFact), when its results were
-- last read, and its LastModified then (a change in Metrc reads them again).
CREATE TABLE package_coa (
    tag              TEXT PRIMARY KEY,
    fact             TEXT NOT NULL,
    checked_at       TEXT,
    checked_modified TEXT
) STRICT;
