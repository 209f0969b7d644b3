//! E-mail over SMTP (lettre, rustls): one plain-text message per alert change to the configured
//! recipients. TLS is STARTTLS (required) by default, implicit TLS on request, or none for a
//! relay on the same machine. SMTP 4xx answers are transient, 5xx permanent, and a failed
//! connection is transient.

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{AlertMessage, SinkError, SmtpTls, TextMessage};

/// How to reach the SMTP server.
#[derive(Clone)]
pub struct SmtpSettings {
    /// The SMTP server.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How the connection is secured.
    pub tls: SmtpTls,
    /// The login, if any.
    pub username: Option<String>,
    /// From the environment; never shown.
    pub password: Option<String>,
    /// How long one SMTP conversation may take.
    pub timeout: std::time::Duration,
    /// Extra CA certificates (PEM) to trust besides the public roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// An SMTP sink.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    settings: SmtpSettings,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("smtp", &self.settings)
            .field("from", &self.from.to_string())
            .field(
                "to",
                &self.to.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Email {
    /// An SMTP sink; fails if an address does not parse or TLS cannot be set up.
    pub fn new(settings: SmtpSettings, from: &str, to: &[String]) -> Result<Self, SinkError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| SinkError::Setup(format!("from address {from:?}: {e}")))?;
        let to = to
            .iter()
            .map(|a| {
                a.parse::<Mailbox>()
                    .map_err(|e| SinkError::Setup(format!("to address {a:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(SinkError::Setup("no recipients".into()));
        }
        let setup = |e: lettre::transport::smtp::Error| SinkError::Setup(e.to_string());
        let tls_parameters = || -> Result<TlsParameters, SinkError> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(path) = &settings.ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    SinkError::Setup(format!("cannot read ca_file {}: {e}", path.display()))
                })?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| SinkError::Setup(format!("ca_file {}: {e}", path.display())))?;
                builder = builder.add_root_certificate(cert);
            }
            builder.build_rustls().map_err(setup)
        };
        let tls = match settings.tls {
            // Required, never opportunistic: a stripped STARTTLS must not send the password in
            // clear.
            SmtpTls::Starttls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .tls(tls)
            .port(settings.port)
            .timeout(Some(settings.timeout));
        if let (Some(user), Some(pass)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            settings,
            from,
            to,
        })
    }

    /// The message for an alert change.
    pub fn message(&self, msg: &AlertMessage) -> Result<Message, SinkError> {
        self.build(&msg.title(), msg.plain())
    }

    /// The e-mail of a text message.
    pub fn text_message(&self, msg: &TextMessage) -> Result<Message, SinkError> {
        self.build(&msg.title, msg.plain.clone())
    }

    fn build(&self, subject: &str, body: String) -> Result<Message, SinkError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .body(body)
            .map_err(|e| SinkError::Permanent(format!("cannot build the message: {e}")))
    }

    /// Sends one message.
    pub async fn send(&self, msg: &AlertMessage) -> Result<(), SinkError> {
        self.deliver(self.message(msg)?).await
    }

    /// Sends one text message.
    pub async fn send_text(&self, msg: &TextMessage) -> Result<(), SinkError> {
        self.deliver(self.text_message(msg)?).await
    }

    async fn deliver(&self, message: Message) -> Result<(), SinkError> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SinkError::Permanent(e.to_string())),
            // 4xx answers, timeouts, refused connections, TLS trouble: may pass.
            Err(e) => Err(SinkError::Transient(e.to_string())),
        }
    }
}
