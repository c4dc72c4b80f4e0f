//! [`Authorizer`]: a policy plus how to answer (401 challenge, dry run), and the one place
//! where decisions are made, logged and turned into responses.

use crate::{Decision, DenyReason, Permission, Policy, RbacError};
use mlguard_core::misconfig::ReportGate;
use mlguard_core::principal::NO_AUTHENTICATION_FIX;
use mlguard_core::{BearerError, Principal, PrincipalLookup, Problem, RefusalFormat, WwwAuthenticate};
use std::fmt;
use std::sync::Arc;

/// What a route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// Anyone, with or without a principal (a health check, the token endpoint).
    Public,
    /// Any principal.
    Authenticated,
    /// A principal allowed to do this (see [`Policy::is_allowed`]).
    Permission(Permission),
    /// A principal holding this role (see [`Policy::has_role`]).
    Role(String),
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Public => f.write_str("public"),
            Self::Authenticated => f.write_str("authenticated"),
            Self::Permission(p) => write!(f, "permission {p}"),
            Self::Role(r) => write!(f, "role {r}"),
        }
    }
}

/// Where a decision was made, for the log event.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Site<'a> {
    pub(crate) method: Option<&'a str>,
    pub(crate) route: Option<&'a str>,
}

/// A [`Policy`] with the settings every layer and extractor built from it shares. Cheap to
/// clone; put one in your axum state (`FromRef`) for the extractors.
///
/// - The 401 challenge for requests without a principal: by default a bare `Bearer`; set it to
///   the challenge your authentication layer is configured with
///   ([`challenge`](Self::challenge)), so both layers answer alike.
/// - Dry-run mode ([`dry_run`](Self::dry_run)): every check is made and logged, but refusals
///   let the request through, for rolling out a new policy against real traffic.
///
/// ```
/// use mlguard_core::{Principal, WwwAuthenticate};
/// use mlguard_rbac::{Authorizer, Policy, Requirement};
///
/// let policy = Policy::builder().role("user", ["model:predict"]).build()?;
/// let authz = Authorizer::new(policy).challenge(WwwAuthenticate::bearer().realm("ml-api"));
/// let need = Requirement::Permission("model:predict".parse()?);
///
/// let anonymous = authz.rejection(None, &need).unwrap();
/// assert_eq!(anonymous.status(), 401);
/// assert_eq!(anonymous.headers()["www-authenticate"], r#"Bearer realm="ml-api""#);
///
/// let user = Principal::builder("alice").role("user").build();
/// assert!(authz.rejection(Some(&user), &need).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Authorizer {
    policy: Policy,
    challenge: Arc<WwwAuthenticate>,
    dry_run: bool,
    format: RefusalFormat,
    misconfig: Arc<ReportGate>,
}

impl Authorizer {
    /// Enforcing authorizer for `policy`, with a bare `Bearer` challenge.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            challenge: Arc::new(WwwAuthenticate::bearer()),
            dry_run: false,
            format: RefusalFormat::Auto,
            misconfig: Arc::new(ReportGate::default()),
        }
    }

    /// How refusals are written (default [`RefusalFormat::Auto`]: `grpc-status`
    /// UNAUTHENTICATED / PERMISSION_DENIED for gRPC requests, problem bodies otherwise).
    pub fn refusal_format(mut self, format: RefusalFormat) -> Self {
        self.format = format;
        self
    }

    /// The challenge sent with 401 responses (use your authentication layer's).
    pub fn challenge(mut self, challenge: WwwAuthenticate) -> Self {
        self.challenge = Arc::new(challenge);
        self
    }

    /// Dry-run mode: log what would be refused, refuse nothing.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether dry-run mode is on.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Checks that `requirement` can ever be met by this policy (a role it names exists).
    pub fn validate(&self, requirement: &Requirement, referenced_by: &str) -> Result<(), RbacError> {
        match requirement {
            Requirement::Role(role) if !self.policy.has_role_defined(role) => Err(RbacError::UnknownRole {
                role: role.clone(),
                referenced_by: referenced_by.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// The decision for `principal` and `requirement`, without logging or answering.
    pub fn decide(&self, principal: Option<&Principal>, requirement: &Requirement) -> Decision {
        match (requirement, principal) {
            (Requirement::Public, _) => Decision::Allow,
            (_, None) => Decision::Deny(DenyReason::Unauthenticated),
            (Requirement::Authenticated, Some(_)) => Decision::Allow,
            (Requirement::Permission(p), Some(who)) => self.policy.is_allowed(who, p),
            (Requirement::Role(r), Some(who)) => self.policy.has_role(who, r),
        }
    }

    /// Decides, emits the decision's `tracing` event, and returns the rejection to send, or
    /// `None` to let the request through: 401 with the configured challenge without a
    /// principal, 403 otherwise (with an RFC 6750 `insufficient_scope` challenge for
    /// bearer-token principals). In dry-run mode always `None`.
    pub fn rejection(&self, principal: Option<&Principal>, requirement: &Requirement) -> Option<Problem> {
        self.rejection_at(principal, requirement, Site::default())
    }

    pub(crate) fn rejection_at(
        &self,
        principal: Option<&Principal>,
        requirement: &Requirement,
        site: Site<'_>,
    ) -> Option<Problem> {
        let decision = self.decide(principal, requirement);
        self.log(principal, Some(requirement), decision, site);
        match decision.reason() {
            Some(reason) if !self.dry_run => Some(self.problem_for(principal, requirement, reason)),
            _ => None,
        }
    }

    /// The layers' and extractors' check of one request: the principal from `extensions`,
    /// and the refusal shaped for the request (`headers`) with the configured format.
    ///
    /// Without a principal and without the [`mlguard_core::Anonymous`] mark no authentication
    /// layer ran in front of this check: a server misconfiguration, answered 500 (`server
    /// misconfigured`) and logged as an error naming the fix (once a minute per authorizer),
    /// not a 401 the client could do nothing about. In dry-run mode it is logged and let through.
    pub(crate) fn check_request(
        &self,
        extensions: &http::Extensions,
        headers: &http::HeaderMap,
        requirement: Option<&Requirement>,
        site: Site<'_>,
    ) -> Option<Problem> {
        let lookup = PrincipalLookup::of(extensions);
        let principal = match lookup {
            PrincipalLookup::Found(p) => Some(p),
            _ => None,
        };
        let refusal = match requirement {
            Some(r) if *r != Requirement::Public && lookup == PrincipalLookup::NoAuthentication => {
                self.misconfigured(site)
            }
            Some(requirement) => self.rejection_at(principal, requirement, site),
            None => self.deny_unmapped(principal, site),
        };
        refusal.map(|p| p.for_request(self.format, headers))
    }

    fn misconfigured(&self, site: Site<'_>) -> Option<Problem> {
        if self.misconfig.should_report() {
            tracing::error!(
                target: "mlguard_rbac",
                method = site.method,
                route = site.route,
                fix = NO_AUTHENTICATION_FIX,
                dry_run = self.dry_run,
                "server misconfigured: a permission check found no principal, and {NO_AUTHENTICATION_FIX}"
            );
        }
        (!self.dry_run).then(Problem::server_misconfigured)
    }

    /// The refusal of an unmapped route (deny by default), logged.
    pub(crate) fn deny_unmapped(&self, principal: Option<&Principal>, site: Site<'_>) -> Option<Problem> {
        let decision = Decision::Deny(DenyReason::UnmappedRoute);
        self.log(principal, None, decision, site);
        (!self.dry_run).then(|| {
            Problem::forbidden("No access rule is configured for this route")
                .with_extension("reason", DenyReason::UnmappedRoute.as_str().into())
        })
    }

    fn problem_for(
        &self,
        principal: Option<&Principal>,
        requirement: &Requirement,
        reason: DenyReason,
    ) -> Problem {
        let Some(principal) = principal else {
            return Problem::unauthorized("Not authenticated", &self.challenge);
        };
        let mut problem = Problem::forbidden("Not enough permissions");
        match requirement {
            Requirement::Permission(p) => {
                problem = problem.with_extension("required_permission", p.as_str().into());
            }
            Requirement::Role(r) => {
                problem = problem.with_extension("required_role", r.as_str().into());
            }
            Requirement::Public | Requirement::Authenticated => {}
        }
        problem = problem.with_extension("reason", reason.as_str().into());
        if principal.is_bearer() {
            // RFC 6750 section 3.1: tell the client which scope it needs.
            let mut challenge = WwwAuthenticate::bearer();
            if self.challenge.scheme().eq_ignore_ascii_case("bearer")
                && let Some(realm) = self.challenge.get("realm")
            {
                challenge = challenge.realm(realm);
            }
            challenge = challenge.error(BearerError::InsufficientScope);
            if let Requirement::Permission(p) = requirement {
                challenge = challenge.param("scope", p.as_str());
            }
            problem = problem.with_header(http::header::WWW_AUTHENTICATE, challenge.to_header_value());
        }
        problem
    }

    /// `requirement` is `None` for an unmapped route.
    fn log(
        &self,
        principal: Option<&Principal>,
        requirement: Option<&Requirement>,
        decision: Decision,
        site: Site<'_>,
    ) {
        // Only identity fields: the subject and how it authenticated, never a credential
        // (a `Principal` holds none) nor the token or key id.
        let subject = principal.map(Principal::subject);
        let auth = principal.map(|p| p.method().kind());
        let (permission, role) = match requirement {
            Some(Requirement::Permission(p)) => (Some(p.as_str()), None),
            Some(Requirement::Role(r)) => (None, Some(r.as_str())),
            _ => (None, None),
        };
        let requirement_kind = match requirement {
            Some(Requirement::Public) => "public",
            Some(Requirement::Authenticated) => "authenticated",
            Some(Requirement::Permission(_)) => "permission",
            Some(Requirement::Role(_)) => "role",
            None => "none (unmapped route)",
        };
        let outcome = decision.outcome();
        let reason = decision.reason().map(DenyReason::as_str);
        let dry_run = self.dry_run;
        macro_rules! emit {
            ($level:expr, $msg:literal) => {
                tracing::event!(
                    target: "mlguard_rbac",
                    $level,
                    subject,
                    auth,
                    requirement = requirement_kind,
                    permission,
                    role,
                    outcome,
                    reason,
                    dry_run,
                    method = site.method,
                    route = site.route,
                    $msg
                )
            };
        }
        match (decision, dry_run) {
            (Decision::Allow, _) => emit!(tracing::Level::DEBUG, "authorization decision"),
            (_, true) => emit!(
                tracing::Level::WARN,
                "authorization decision (dry run: request let through)"
            ),
            (Decision::Deny(DenyReason::UnmappedRoute), false) => {
                emit!(
                    tracing::Level::WARN,
                    "authorization decision (route has no access rule)"
                )
            }
            (_, false) => emit!(tracing::Level::INFO, "authorization decision"),
        }
    }
}
