// The sites list: the signed-in home page (pages/sites/).
export { SitesPage } from "./sites/sites-page";
