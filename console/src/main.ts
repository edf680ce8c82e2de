// The console's entry: render the app into the page's #app.

import { h, render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import '../style.css';
import { App } from './app.js';

render(h(App, {}), document.getElementById('app')!);
