//! Where the running server really keeps its data and configuration, against what the
//! plan assumes: a Debian/Ubuntu cluster keeps postgresql.conf in /etc/postgresql/V/N,
//! and a restored server started without it would find no configuration at all.

/// The settings read from the running server.
pub const LAYOUT_SQL: &str = "select name, setting from pg_settings \
where name in ('config_file', 'data_directory', 'hba_file', 'ident_file') order by name";

/// What the server reports, by setting name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Layout {
    pub config_file: Option<String>,
    pub data_directory: Option<String>,
    pub hba_file: Option<String>,
    pub ident_file: Option<String>,
}

impl Layout {
    pub fn from_rows(rows: &[Vec<Option<String>>]) -> Layout {
        let mut l = Layout::default();
        for row in rows {
            let (Some(Some(name)), Some(value)) = (row.first(), row.get(1)) else {
                continue;
            };
            let slot = match name.as_str() {
                "config_file" => &mut l.config_file,
                "data_directory" => &mut l.data_directory,
                "hba_file" => &mut l.hba_file,
                "ident_file" => &mut l.ident_file,
                _ => continue,
            };
            *slot = value.clone();
        }
        l
    }

    /// A line for the journal when the layout matches the plan, else what to configure.
    pub fn check(&self, pgdata: &str, planned_config: Option<&str>) -> Result<String, String> {
        let Some(data) = self.data_directory.as_deref() else {
            return Ok("the server did not report its data directory".into());
        };
        if data.trim_end_matches('/') != pgdata.trim_end_matches('/') {
            return Err(format!(
                "the running server's data_directory is {data}, but the server's pgdata is {pgdata}: set pgdata = \"{data}\" (the recovery restores into pgdata)"
            ));
        }
        let config = self.config_file.as_deref().unwrap_or_default();
        let inside = Self::in_dir(config, data);
        match planned_config {
            Some(planned) if planned != config => Err(format!(
                "the running server reads {config}, but the plan starts the restored server with {planned}: set config_dir to the directory of {config}"
            )),
            None if !config.is_empty() && !inside => {
                let dir = config.rsplit_once('/').map_or(config, |(d, _)| d);
                Err(format!(
                    "the running server's configuration {config} is outside its data directory {data}, so a restored copy would start without it: set config_dir = \"{dir}\" (or control = \"pg_ctlcluster:VERSION/NAME\" for a Debian cluster)"
                ))
            }
            _ => Ok(format!(
                "data directory {data}, configuration {config}, hba {}, ident {}",
                self.hba_file.as_deref().unwrap_or("?"),
                self.ident_file.as_deref().unwrap_or("?")
            )),
        }
    }

    fn in_dir(file: &str, dir: &str) -> bool {
        file.strip_prefix(dir.trim_end_matches('/'))
            .is_some_and(|rest| rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian() -> Layout {
        let row = |n: &str, v: &str| vec![Some(n.to_string()), Some(v.to_string())];
        Layout::from_rows(&[
            row("config_file", "/etc/postgresql/15/main/postgresql.conf"),
            row("data_directory", "/var/lib/postgresql/15/main"),
            row("hba_file", "/etc/postgresql/15/main/pg_hba.conf"),
            row("ident_file", "/etc/postgresql/15/main/pg_ident.conf"),
        ])
    }

    #[test]
    fn a_debian_cluster_needs_its_config_dir_named() {
        let e = debian()
            .check("/var/lib/postgresql/15/main", None)
            .unwrap_err();
        assert!(
            e.contains("config_dir = \"/etc/postgresql/15/main\""),
            "{e}"
        );
        assert!(debian()
            .check(
                "/var/lib/postgresql/15/main/",
                Some("/etc/postgresql/15/main/postgresql.conf")
            )
            .is_ok());
        let e = debian()
            .check(
                "/var/lib/postgresql/15/main",
                Some("/etc/postgresql/15/other/postgresql.conf"),
            )
            .unwrap_err();
        assert!(
            e.contains("reads /etc/postgresql/15/main/postgresql.conf"),
            "{e}"
        );
    }

    #[test]
    fn the_wrong_pgdata_is_named() {
        let e = debian().check("/srv/pg", None).unwrap_err();
        assert!(
            e.contains("set pgdata = \"/var/lib/postgresql/15/main\""),
            "{e}"
        );
    }

    #[test]
    fn config_inside_pgdata_needs_nothing() {
        let row = |n: &str, v: &str| vec![Some(n.to_string()), Some(v.to_string())];
        let l = Layout::from_rows(&[
            row("config_file", "/srv/pg/postgresql.conf"),
            row("data_directory", "/srv/pg"),
        ]);
        assert!(l.check("/srv/pg", None).is_ok());
        let l = Layout::from_rows(&[
            row("config_file", "/srv/pg2/postgresql.conf"),
            row("data_directory", "/srv/pg"),
        ]);
        assert!(l.check("/srv/pg", None).is_err());
    }
}
