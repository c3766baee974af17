// On-screen keyboard with pinyin (Qt Virtual Keyboard), embedded under the form screen.
// The panel itself is made by an asynchronous Loader (Python gives the engine an incubation
// controller that makes objects a few milliseconds per event-loop turn), so its first show never
// stalls the GUI thread; `panelReady` tells Python when the keys exist.
// Python sets `language`, the panel width that gives the wanted key size (`panelWidth`), and the
// candidate bar's height and font (`candidateHeight`, `candidatePx`). The bar is the keyboard's
// own word candidate list (SelectionListModel), always shown and drawn with big candidates so
// 张 can be found and touched after typing "zhang".
// The helper functions drive the input engine the way a finger does (virtualKeyClick is the
// same path a key press on the panel takes), for tests and the demo.
import QtQuick
import QtQuick.VirtualKeyboard
import QtQuick.VirtualKeyboard.Settings

Item {
    id: root
    property string language: "zh_CN"
    property real panelWidth: 100000  // a number, not a binding: Python sets it
    property int candidateHeight: 80
    property int candidatePx: 32
    readonly property real keyboardHeight: panel ? panel.keyboard.height : 0
    onLanguageChanged: VirtualKeyboardSettings.locale = (language === "zh_CN" ? "zh_CN" : "en_US")

    signal panelReady()
    // Made asynchronously: the panel's hundreds of items (and the pinyin engine) are incubated a
    // few milliseconds per event-loop turn, so the GUI thread never stalls while it first shows.
    Loader {
        id: loader
        objectName: "panelLoader"  // Python stops it when the keyboard goes half built
        asynchronous: true
        width: Math.min(root.width, root.panelWidth)
        anchors.horizontalCenter: parent.horizontalCenter
        anchors.bottom: parent.bottom
        sourceComponent: InputPanel { width: loader.width }
        onLoaded: root.setUp()
    }
    readonly property var panel: loader.item
    readonly property bool ready: loader.status === Loader.Ready

    // Large candidates: one big touch target per word, the chosen font, high contrast.
    Component {
        id: bigCandidate
        Rectangle {
            id: cell
            property url soundEffect: ""  // the keyboard asks every candidate for one
            width: Math.max(root.candidateHeight * 1.4, label.implicitWidth + root.candidatePx)
            height: root.candidateHeight
            color: "#FFFFFF"
            border.color: "#5E6B78"
            border.width: 2
            Text {
                id: label
                anchors.centerIn: parent
                text: display
                color: "#111417"
                font.pixelSize: root.candidatePx
            }
            MouseArea {
                anchors.fill: parent
                onClicked: cell.ListView.view.model.selectItem(index)
            }
        }
    }

    Component.onCompleted: {
        VirtualKeyboardSettings.activeLocales = ["zh_CN", "en_US"]
        VirtualKeyboardSettings.locale = (language === "zh_CN" ? "zh_CN" : "en_US")
        VirtualKeyboardSettings.wordCandidateList.alwaysVisible = true  // no jumping keyboard
    }
    function setUp() {
        var view = panel.keyboard.wordCandidateView
        view.delegate = bigCandidate
        view.height = Qt.binding(function() { return root.candidateHeight })
        root.panelReady()
    }

    function typeText(text) {
        for (var i = 0; i < text.length; i++) {
            var c = text.charAt(i)
            InputContext.inputEngine.virtualKeyClick(c.toUpperCase().charCodeAt(0), c, 0)
        }
    }

    function candidateCount() { return InputContext.inputEngine.wordCandidateListModel.count }
    function candidate(i) { return InputContext.inputEngine.wordCandidateListModel.dataAt(i, 0) }
    function pickCandidate(i) { InputContext.inputEngine.wordCandidateListModel.selectItem(i) }
    // Where candidate `i` is drawn, in the widget's coordinates (x, y, w, h), or [] if not shown:
    // a test touches it there, as a finger would.
    function candidateRect(i) {
        var view = panel.keyboard.wordCandidateView
        view.positionViewAtIndex(i, ListView.Beginning)
        var item = view.itemAtIndex(i)
        if (!item || !view.visible)
            return []
        var p = item.mapToItem(root, 0, 0)
        return [p.x, p.y, item.width, item.height]
    }
    // The height of a letter key as laid out (its touch area), for the size check.
    function keyHeight() { var k = root.findKey(panel.keyboard, Qt.Key_Q); return k ? k.height : 0 }
    // Where the space bar is drawn (x, y, w, h), for the label's contrast check.
    function spaceRect() {
        var k = root.findKey(panel.keyboard, Qt.Key_Space)
        if (!k)
            return []
        var p = k.mapToItem(root, 0, 0)
        return [p.x, p.y, k.width, k.height]
    }
    function findKey(item, code) {
        if (!item)
            return null
        for (var i = 0; i < item.children.length; i++) {
            var child = item.children[i]
            if (child.hasOwnProperty("key") && child.hasOwnProperty("displayText") && child.key === code)
                return child
            var found = root.findKey(child, code)
            if (found)
                return found
        }
        return null
    }
}
