-- 0009: where a package is. Metrc's LocationName and SublocationName (either may be
-- absent) come with the package facts, from the file import and the hub's snapshots
-- alike; the pick list walks the vault by them. Older rows have none until a newer
-- snapshot of their package arrives.
-- Landed migrations never change; a new change is a new numbered file.
ALTER TABLE packages ADD COLUMN location TEXT;
ALTER TABLE packages ADD COLUMN sublocation TEXT;
