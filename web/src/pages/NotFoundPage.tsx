import { Link } from "react-router";
import { Page } from "../components/Page";

export function NotFoundPage() {
  return (
    <Page title="Page not found">
      <p>
        There is no page here. Go to <Link to="/greet">Greet</Link> or <Link to="/history">your greetings</Link>.
      </p>
    </Page>
  );
}
