// The account page lives in pages/account/; app.tsx loads it from here.
export { AccountPage } from "./account/account";
