import { render } from "preact";

import "./style.css";
import { App } from "./ui/App.js";

render(<App />, document.getElementById("root")!);
