//! `hitkeep user create|list|remove|set-password|reset-factors`: accounts from the shell.

use std::io::{BufRead, IsTerminal};

use hyper::Method;

use crate::cli::UserCommand;
use crate::control::{ControlClient, encode_segment};
use crate::routes::people::UserView;
use crate::state::format_utc;

/// The password of `create` and `set-password`: the first line of standard input, or `None`
/// (generate one) when standard input is a terminal or `--generate-password` is given.
fn password_from_stdin(generate: bool) -> anyhow::Result<Option<String>> {
    if generate || std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        anyhow::bail!("no password on standard input (or pass --generate-password)");
    }
    Ok(Some(line))
}

fn generated_line(user: &UserView) -> String {
    user.generated_password
        .as_ref()
        .map(|generated| {
            format!("password: {generated}\nKeep it now: it is not shown again (Hitkeep stores only its argon2id hash).\n")
        })
        .unwrap_or_default()
}

/// Runs a user command.
pub async fn run(client: &ControlClient, command: UserCommand) -> anyhow::Result<String> {
    Ok(match command {
        UserCommand::Create { email, role, name, generate_password } => {
            let password = password_from_stdin(generate_password)?;
            let body =
                serde_json::json!({ "email": email, "name": name, "role": role, "password": password });
            let user: UserView = client.call(Method::POST, "/control/users", Some(body)).await?;
            format!("created {} ({})\n{}", user.email, user.role, generated_line(&user))
        }
        UserCommand::SetPassword { email, generate_password } => {
            let password = password_from_stdin(generate_password)?;
            let path = format!("/control/users/{}/password", encode_segment(&email));
            let user: UserView =
                client.call(Method::PUT, &path, Some(serde_json::json!({ "password": password }))).await?;
            format!("set the password of {} and ended their sessions\n{}", user.email, generated_line(&user))
        }
        UserCommand::List { json } => {
            let users: Vec<UserView> = client.call(Method::GET, "/control/users", None).await?;
            if json {
                serde_json::to_string_pretty(&users)? + "\n"
            } else {
                let width = users.iter().map(|user| user.email.len()).max().unwrap_or(5).max(5);
                let mut out = format!("{:width$}  {:6}  CREATED (UTC)\n", "EMAIL", "ROLE");
                for user in &users {
                    out.push_str(&format!(
                        "{:width$}  {:6}  {}\n",
                        user.email,
                        user.role,
                        format_utc(user.created_at_ms)
                    ));
                }
                out
            }
        }
        UserCommand::Remove { email } => {
            let user: UserView = client
                .call(Method::DELETE, &format!("/control/users/{}", encode_segment(&email)), None)
                .await?;
            format!("removed {} with their sessions and tokens\n", user.email)
        }
        UserCommand::ResetFactors { email } => {
            let path = format!("/control/users/{}/factors", encode_segment(&email));
            let user: UserView = client.call(Method::DELETE, &path, None).await?;
            format!(
                "removed the second factors of {}; they sign in with their password alone now\n",
                user.email
            )
        }
    })
}
