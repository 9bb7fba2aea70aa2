//! Built-in presets. `preset: postgres` expands to the expanded form printed
//! in the Compartment seed, plus a verify command (issue #15); only `env`
//! may accompany it.

use super::model::*;
use std::collections::BTreeMap;

pub const PRESETS: &[&str] = &["postgres"];

/// The fields a preset may be combined with.
pub const PRESET_FIELDS: &[&str] = &["preset", "env"];

pub fn expand(name: &str, env_overrides: &BTreeMap<String, String>) -> Option<ResourceDef> {
    match name {
        "postgres" => Some(postgres(env_overrides)),
        _ => None,
    }
}

/// The preset's verify command.
const VERIFY: &str = r#"set -u; a="$COMPARTMENT_BACKUP_DIR/postgres.sql"; tail -n 10 "$a" | grep -q '^-- PostgreSQL database dump complete' || { echo 'postgres.sql is incomplete: it lacks the closing line of pg_dump'; exit 1; }; PGPASSWORD="$POSTGRES_PASSWORD" pg_dump --host "$COMPARTMENT_RESOURCE_HOST" --username "$POSTGRES_USER" "$POSTGRES_DB" > /tmp/restored.sql || exit 1; grep -v -e '^\\restrict ' -e '^\\unrestrict ' "$a" > /tmp/a.sql; grep -v -e '^\\restrict ' -e '^\\unrestrict ' /tmp/restored.sql > /tmp/b.sql; if ! diff /tmp/a.sql /tmp/b.sql > /tmp/diff.txt; then echo "the restored database differs from the dump: $(grep -c '^[<>]' /tmp/diff.txt) line(s) differ"; exit 1; fi; echo "restored $(grep -c '^CREATE TABLE ' /tmp/b.sql) table(s); the restored database dumps back to the same text""#;

fn postgres(env_overrides: &BTreeMap<String, String>) -> ResourceDef {
    let mut env = BTreeMap::from([
        ("POSTGRES_DB".to_string(), "app".to_string()),
        ("POSTGRES_USER".to_string(), "app".to_string()),
    ]);
    env.extend(env_overrides.clone());
    let output = |sensitive: bool, value: &str| OutputDef {
        sensitive,
        value: value.to_string(),
    };
    ResourceDef {
        preset: Some("postgres".into()),
        image: "postgres:16-alpine".into(),
        command: None,
        env,
        generated_variables: BTreeMap::from([("POSTGRES_PASSWORD".to_string(), GeneratedVariable::default())]),
        ports: vec![5432],
        outputs: BTreeMap::from([
            (
                "connection-url".to_string(),
                output(true, "postgres://${env.POSTGRES_USER}:${env.POSTGRES_PASSWORD}@${resource.host}:5432/${env.POSTGRES_DB}"),
            ),
            ("host".to_string(), output(false, "${resource.host}")),
            ("port".to_string(), output(false, "5432")),
            ("database".to_string(), output(false, "${env.POSTGRES_DB}")),
        ]),
        volumes: BTreeMap::from([("data".to_string(), "/var/lib/postgresql/data".to_string())]),
        readiness: Some(Readiness::tcp(5432, 60000)),
        restart: default_restart(),
        operations: Operations {
            backup: Some(BackupOperation {
                operation: Operation {
                    command: r#"PGPASSWORD="$POSTGRES_PASSWORD" pg_dump --host "$COMPARTMENT_RESOURCE_HOST" --username "$POSTGRES_USER" "$POSTGRES_DB" > "$COMPARTMENT_BACKUP_DIR/postgres.sql""#.into(),
                    image: None,
                    env: BTreeMap::new(),
                },
                schedule: Some(Schedule::Interval("daily".into())),
                retention: Some(Retention { keep_last: None, max_age_days: Some(7), include_manual: false }),
                verify_scheduled: false,
            }),
            restore: Some(Operation {
                command: r#"PGPASSWORD="$POSTGRES_PASSWORD" psql --host "$COMPARTMENT_RESOURCE_HOST" --username "$POSTGRES_USER" "$POSTGRES_DB" < "$COMPARTMENT_BACKUP_DIR/postgres.sql""#.into(),
                image: None,
                env: BTreeMap::new(),
            }),
            // Not in the seed (issue #15): the dump is complete (pg_dump's
            // closing line), and the restored database answers and dumps
            // back to the same text (psql carries on past a failed
            // statement, so a damaged row shows only as a difference). Only
            // counts are printed: the output is recorded on the backup.
            verify: Some(Operation {
                command: VERIFY.into(),
                image: None,
                env: BTreeMap::new(),
            }),
        },
    }
}
