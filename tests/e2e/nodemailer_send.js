// nodemailer_send.js PORT USER PASS FROM TO SUBJECT TEXT - one message
// through gwd with Nodemailer (STARTTLS, AUTH), as an application sends.
// Prints the server's reply to the message.
const nodemailer = require("nodemailer");
const [port, user, pass, from, to, subject, text] = process.argv.slice(2);
const t = nodemailer.createTransport({
  host: "127.0.0.1", port: Number(port), secure: false, requireTLS: true,
  tls: { rejectUnauthorized: false }, auth: { user, pass },
});
t.sendMail({ from, to, subject, text }).then(
  (info) => { console.log(info.response); },
  (err) => { console.error(String(err)); process.exit(1); });
