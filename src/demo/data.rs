//! The vocabulary of the demo: services, people, titles, rationales and controls that read like
//! a real CAB's week.

pub const SERVICES: &[&str] = &[
    "payments-api",
    "checkout-web",
    "ledger-service",
    "identity-gateway",
    "search-indexer",
    "notifications-worker",
    "inventory-service",
    "pricing-engine",
    "fraud-scoring",
    "customer-portal",
    "billing-batch",
    "reporting-etl",
    "mobile-bff",
    "auth-service",
    "order-router",
    "shipping-tracker",
    "catalog-api",
    "recommendations",
    "feature-flags",
    "kafka-connect",
    "postgres-primary",
    "redis-cache",
    "edge-proxy",
    "cdn-config",
    "data-warehouse",
    "ml-feature-store",
    "support-desk",
    "email-relay",
    "audit-log-shipper",
    "vault-config",
    "k8s-ingress",
    "core-network",
    "observability-stack",
    "backup-orchestrator",
    "tax-calculator",
    "loyalty-points",
    "partner-webhooks",
    "sso-connector",
    "dns-zones",
    "object-storage-gateway",
];

/// Engineers who submit requests and exceptions.
pub const ENGINEERS: &[&str] = &[
    "amara.okafor",
    "ben.kowalski",
    "chen.wei",
    "dana.levi",
    "diego.alvarez",
    "elif.yilmaz",
    "farah.haddad",
    "gustav.lind",
    "hana.sato",
    "ivan.petrov",
    "jade.morgan",
    "kofi.mensah",
    "lena.fischer",
    "marco.rossi",
    "nadia.rahman",
    "oscar.nilsson",
    "priya.nair",
    "quinn.oconnor",
    "rafael.souza",
    "sofia.costa",
    "tomas.novak",
    "uma.krishnan",
    "victor.dubois",
    "wen.zhao",
];

/// CAB members who decide medium-risk requests.
pub const CAB_MEMBERS: &[&str] = &[
    "carol.baker",
    "martin.schulz",
    "aisha.bello",
    "yuki.tanaka",
    "robert.king",
    "ingrid.olsen",
];

/// Security reviewers who approve or reject exceptions.
pub const SECURITY_REVIEWERS: &[&str] = &["sam.okoye", "laura.mendes", "erik.johansson", "mei.lin"];

/// Who runs the periodic cleanup.
pub const JANITOR: &str = "cab-cleanup-bot";

pub const FACTORS: [&str; 5] = [
    "change_size",
    "blast_radius",
    "test_coverage_gap",
    "rollback_complexity",
    "incident_history",
];

pub const LIBS: &[&str] = &[
    "openssl",
    "tokio",
    "spring-boot",
    "log4j",
    "protobuf",
    "grpc",
    "libpq",
    "jackson-databind",
    "react",
    "nginx",
    "envoy",
    "glibc",
];

pub const TABLES: &[&str] = &[
    "orders",
    "invoices",
    "customers",
    "sessions",
    "payments",
    "ledger_entries",
    "shipments",
    "audit_events",
];

pub const FLAGS: &[&str] = &[
    "new-checkout-flow",
    "async-settlement",
    "smart-retry",
    "risk-v2",
    "one-click-refunds",
    "multi-currency",
];

pub const APPROVE_RATIONALES: &[&str] = &[
    "Staging soak clean for 48h; rollback tested.",
    "Change is well contained and the owning team is on call.",
    "Canary results within SLO; no objections from dependent teams.",
    "Evidence package complete; test coverage adequate for the blast radius.",
    "Low customer impact window; runbook reviewed.",
    "Same change shipped to the sibling service last week without incident.",
];

pub const CONDITIONAL_RATIONALES: &[&str] = &[
    "Acceptable with a staged rollout.",
    "Approve, but only with the owning team watching the dashboards.",
    "Risk is acceptable if the migration is reversible within the window.",
];

pub const CONDITIONS: &[&str] = &[
    "Deploy outside business hours (after 20:00 UTC)",
    "Canary at 5% for 2 hours before full rollout",
    "Owning team's on-call engineer present during rollout",
    "Rollback runbook linked in the change ticket",
    "Verify the feature flag kill switch before enabling",
    "Database backup taken within 1 hour before the migration",
    "Notify #incident-bridge before starting",
];

pub const REJECT_RATIONALES: &[&str] = &[
    "No rollback plan for the schema change; resubmit with one.",
    "Collides with the payments freeze this week.",
    "Test coverage gap too large for the blast radius.",
    "Evidence package is missing the load test results.",
    "Two incidents on this service in the last 14 days; stabilise first.",
];

pub const JUSTIFICATIONS: &[&str] = &[
    "Actively exploited CVE; the patch must ship before the vendor's disclosure date.",
    "Regulatory deadline: the reporting change must be live by month end.",
    "Contractual commitment to a partner launch; delaying breaches the SLA.",
    "Certificate expires in 5 days; rotation touches every edge node.",
    "Data-loss bug in production; the fix cannot wait for the next release train.",
];

pub const CONTROLS: &[&str] = &[
    "Deploy to one availability zone first and hold for 1 hour",
    "Security engineer pairs on the rollout",
    "Enhanced audit logging enabled for 14 days",
    "Automated rollback on error rate above 0.5%",
    "WAF rule in monitor mode during rollout",
    "Daily review of access logs until the exception expires",
    "Feature flag to disable the change within 1 minute",
];

pub const EXCEPTION_APPROVALS: &[&str] = &[
    "Controls are adequate for the exposure window.",
    "Risk accepted given the compensating controls and short expiry.",
    "Approved; the controls cover the main failure modes.",
];

pub const EXCEPTION_REJECTIONS: &[&str] = &[
    "Controls do not address the data exposure risk.",
    "Expiry too long for this risk; request again with 7 days.",
    "No evidence that the rollback was tested.",
];

/// What people write when a deployment failed.
pub const FAILURE_NOTES: &[&str] = &[
    "Error rate doubled within 10 minutes of the rollout.",
    "p99 latency breached the SLO; paged the owning team.",
    "Migration locked the table longer than planned; checkout degraded.",
    "Memory leak under production traffic; pods restarting.",
    "Downstream consumers could not parse the new payload.",
    "Config typo took one region offline for 20 minutes.",
];

/// What people write when a deployment was rolled back.
pub const ROLLBACK_NOTES: &[&str] = &[
    "Canary alarms fired; rolled back automatically.",
    "Rolled back after a spike in 5xx at the edge.",
    "Feature flag killed, then the release reverted.",
    "Rolled back: dependency version mismatch in one cluster.",
];

/// What people sometimes write when all went well.
pub const SUCCESS_NOTES: &[&str] = &[
    "Clean rollout; dashboards flat.",
    "Deployed in the window; no alerts.",
    "Canary clean, full rollout after 2 hours.",
];
